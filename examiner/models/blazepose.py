"""BlazePose (MediaPipe Pose, ``mediapipe==0.10.14``, whose wheel ships the weights): the real
third-party model under test that runs offline. Its 33 landmarks are mapped to COCO-17; its
3D world landmarks (metres, hip-centred, image axes: x right, y down, z away from the camera)
are the prediction's 3D joints."""

from __future__ import annotations

import os
import warnings

import numpy as np

from examiner.models.base import ModelUnderTest, Prediction
from synthgen.body.skeleton import COCO_KEYPOINTS
from synthgen.errors import SynthgenError

#: BlazePose landmark index of each COCO-17 keypoint (both use the person's left / right)
BLAZEPOSE_OF_COCO = {
    "nose": 0, "left_eye": 2, "right_eye": 5, "left_ear": 7, "right_ear": 8,
    "left_shoulder": 11, "right_shoulder": 12, "left_elbow": 13, "right_elbow": 14,
    "left_wrist": 15, "right_wrist": 16, "left_hip": 23, "right_hip": 24,
    "left_knee": 25, "right_knee": 26, "left_ankle": 27, "right_ankle": 28,
}
COCO_FROM_BLAZEPOSE = np.array([BLAZEPOSE_OF_COCO[k] for k in COCO_KEYPOINTS])


class BlazePose(ModelUnderTest):
    has_3d = True
    per_image = True  # static-image mode: one image at a time, no tracking between images

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5):
        os.environ.setdefault("GLOG_minloglevel", "2")
        warnings.filterwarnings("ignore", message=".*GetPrototype.*", category=UserWarning)
        try:
            import mediapipe as mp
        except ImportError:
            raise SynthgenError("the mediapipe model needs MediaPipe: pip install 'pose-examiner[mediapipe]'") from None
        self.name = f"mediapipe (BlazePose {('lite', 'full', 'heavy')[model_complexity]}, mediapipe {mp.__version__})"
        self._pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=model_complexity,
                                            enable_segmentation=False,
                                            min_detection_confidence=min_detection_confidence)

    def predict(self, images: np.ndarray, infos=None) -> Prediction:
        B = len(images)
        kp = np.zeros((B, 17, 2))
        scores = np.zeros((B, 17))
        det = np.zeros(B, dtype=bool)
        j3 = np.zeros((B, 17, 3))
        for b, img in enumerate(images):
            H, W = img.shape[:2]
            res = self._pose.process(np.ascontiguousarray(img, dtype=np.uint8))
            if res.pose_landmarks is None:
                continue
            lm = np.array([(p.x, p.y, p.visibility) for p in res.pose_landmarks.landmark])[COCO_FROM_BLAZEPOSE]
            kp[b] = lm[:, :2] * (W, H) - 0.5  # normalized image coordinates -> pixel centres at integers
            scores[b] = np.clip(lm[:, 2], 0.0, 1.0)
            det[b] = True
            if res.pose_world_landmarks is not None:
                w = np.array([(p.x, p.y, p.z) for p in res.pose_world_landmarks.landmark])[COCO_FROM_BLAZEPOSE]
                j3[b] = w
        return Prediction(kp, scores, det, j3)

    def close(self) -> None:
        self._pose.close()
