"""examiner: models under test, metrics, failure search and fine-tuning over synthgen's
named parameter space. Its modules arrive with the examiner issues; synthgen stands alone."""
