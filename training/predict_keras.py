"""A .keras NIMA's predictions on labelled images (TensorFlow): what training's own model says."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from nima_edge.runtime.preprocess import mirror_input

from .data import Samples
from .evaluate import ModelView, Prediction
from .model import load_nima
from .pipeline import cache_images


def predict_keras(path: Path, samples: Samples, batch_size: int = 32) -> Prediction:
    """-> (samples that decoded, distributions, defect outputs or None, ModelView)."""
    model, spec = load_nima(path)
    kept, images = cache_images(samples, spec.input_size, resize=spec.resize, view=spec.view)
    outputs = model.predict(np.asarray(images), batch_size=batch_size, verbose=0)
    if spec.mirror_average:  # as the runtime scores it (Scorer.score_outputs): the mean with the mirror's
        mirrored = model.predict(np.stack([mirror_input(image, spec.view) for image in images]),
                                 batch_size=batch_size, verbose=0)
        outputs = {name: (np.asarray(value) + np.asarray(mirrored[name])) / 2 for name, value in outputs.items()}
    defects = np.asarray(outputs["defects"]) if "defects" in outputs else None
    return kept, np.asarray(outputs["distribution"]), defects, ModelView(spec.score_values, spec.threshold,
                                                                          spec.defect_labels)
