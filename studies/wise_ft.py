"""Weight-space ensembles of a fine-tuned model and its head-only start (WiSE-FT, Wortsman et al. 2022).

    .venv/bin/python studies/wise_ft.py HEAD_ONLY.keras FINE_TUNED.keras OUT_FOLDER --alpha 0.5 [--alpha 0.7 ...]

``HEAD_ONLY`` is the run's phase 1 (the head trained on the frozen ImageNet backbone: `nima train
... --epochs 2 --phase1-epochs 2`, the same data, flags and seed), ``FINE_TUNED`` the finished run,
which started from it. Each ``--alpha`` writes ``OUT_FOLDER/wise_<alpha>.keras``: every weight,
BatchNorm statistics included, ``(1 - alpha) * head_only + alpha * fine_tuned``, with the fine-tuned
model's spec. alpha 1 is the fine-tuned model, 0 the head-only one. The paper's claim: between the
two, accuracy on the training distribution stays near the fine-tuned model's while accuracy on
shifted data (here, document sources never trained on) rises. Export and judge each as any model:
`nima export ... --format int8`, `nima realcheck`, `nima eval`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from nima_edge.training.model import load_nima, save_nima


def interpolate(start: dict[str, np.ndarray], end: list[tuple[str, np.ndarray]], alpha: float) -> list[np.ndarray]:
    """``end``'s weights, in its order, each (1 - alpha) * start + alpha * itself: variables matched by
    path, since a frozen backbone may list its variables in another order."""
    mixed = []
    for path, value in end:
        if path not in start or start[path].shape != value.shape:
            raise SystemExit(f"{path}: not in the head-only model, or another shape: not one run's two phases")
        mixed.append((1.0 - alpha) * start[path] + alpha * value if value.dtype.kind == "f" else value)
    return mixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("head_only", type=Path)
    parser.add_argument("fine_tuned", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--alpha", type=float, action="append", required=True)
    args = parser.parse_args()
    head_only, _ = load_nima(args.head_only)
    start = {variable.path: variable.numpy() for variable in head_only.weights}
    model, spec = load_nima(args.fine_tuned)
    end = [(variable.path, variable.numpy()) for variable in model.weights]  # read once, before any is set
    args.out.mkdir(parents=True, exist_ok=True)
    for alpha in args.alpha:
        for variable, value in zip(model.weights, interpolate(start, end, alpha)):
            variable.assign(value)
        print(save_nima(model, spec, args.out / f"wise_{alpha:g}.keras", force=True))


if __name__ == "__main__":
    main()
