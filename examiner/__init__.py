"""examiner: models under test, metrics, fault-tolerant evaluation, Gymnasium / PettingZoo
environments, failure search and fine-tuning over synthgen's named parameter space."""
