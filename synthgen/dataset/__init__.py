"""Synthetic datasets at volume: scene samples rendered in shards (local worker processes or
Ray), written atomically in COCO keypoints, DensePose-COCO, dense per-pixel maps and WebDataset
tar formats, with a manifest that makes runs resumable and verifiable."""
