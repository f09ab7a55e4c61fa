"""A .keras NIMA's predictions on labelled images (TensorFlow): what training's own model says."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import Samples
from .evaluate import ModelView, Prediction
from .model import load_nima
from .pipeline import cache_images


def predict_keras(path: Path, samples: Samples, batch_size: int = 32) -> Prediction:
    """-> (samples that decoded, distributions, defect outputs or None, ModelView)."""
    model, spec = load_nima(path)
    kept, images = cache_images(samples, spec.input_size, resize=spec.resize, view=spec.view)
    outputs = model.predict(np.asarray(images), batch_size=batch_size, verbose=0)
    defects = np.asarray(outputs["defects"]) if "defects" in outputs else None
    return kept, np.asarray(outputs["distribution"]), defects, ModelView(spec.score_values, spec.threshold,
                                                                          spec.defect_labels)
