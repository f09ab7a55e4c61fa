"""A .tflite NIMA's predictions on labelled images, through the runtime's Scorer: exactly what a
device would compute. No TensorFlow: the base install evaluates .tflite models."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from nima_edge.runtime.defects import DEFECTS
from nima_edge.runtime.errors import ImageError, NimaError
from nima_edge.runtime.images import load_image
from nima_edge.runtime.policy import Assessor
from nima_edge.runtime.scorer import Scorer

from .data import Samples
from .evaluate import ModelView, Prediction

log = logging.getLogger(__name__)


def predict_tflite(path: Path, samples: Samples, decision: bool = False) -> Prediction:
    """Score through the runtime's Scorer, image by image; unreadable images are skipped.

    ``decision``: judge what a device decides instead — the runtime's Assessor (native-resolution
    checks + policy): its final distribution, and a defect counts as said when it is a reason given.
    """
    scorer = Scorer(path)
    assessor = Assessor(scorer) if decision else None
    labels = tuple(scorer.metadata.extra_outputs.get("defects", ()))
    if decision:
        labels = DEFECTS  # the checks give reasons even when the model has no defects head
    distributions, defects, bad = [], [], set()
    for i, image_path in enumerate(samples.paths):
        try:
            image = load_image(image_path)
            if assessor is not None:
                assessment = assessor.assess(image)
                distributions.append(assessment.distribution)
                defects.append([float(label in assessment.reason_codes) for label in labels])
                continue
            score = scorer.score(image)
        except ImageError as exc:
            samples.problems.add("unreadable_images", str(exc))
            bad.add(i)
            continue
        distributions.append(score.distribution)
        if labels:
            defects.append([score.extras.get("defects", {}).get(label, 0.0) for label in labels])
    if bad:
        log.warning("%s", samples.problems.summary(samples.source))
    kept = samples.drop(bad)
    if len(kept) == 0:
        raise NimaError(f"{samples.source}: no image could be scored")
    view = ModelView(tuple(scorer.metadata.score_values), scorer.metadata.threshold, labels)
    return kept, np.asarray(distributions), (np.asarray(defects) if labels else None), view
