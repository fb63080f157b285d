"""Face detectors: each finds boxes, scores and five landmarks of a known scheme in an image."""
