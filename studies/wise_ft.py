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

from nima_edge.training.model import load_nima, save_nima


def interpolate(head_only, fine_tuned, alpha: float) -> list:
    """The fine-tuned model's weights, in its order, each (1 - alpha) * head_only + alpha * itself:
    variables matched by path, since a frozen backbone may list its variables in another order."""
    start = {variable.path: variable.numpy() for variable in head_only.weights}
    mixed = []
    for variable in fine_tuned.weights:
        end = variable.numpy()
        if variable.path not in start or start[variable.path].shape != end.shape:
            raise SystemExit(f"{variable.path}: not in the head-only model, or another shape: not one run's two phases")
        mixed.append((1.0 - alpha) * start[variable.path] + alpha * end if end.dtype.kind == "f" else end)
    return mixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("head_only", type=Path)
    parser.add_argument("fine_tuned", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--alpha", type=float, action="append", required=True)
    args = parser.parse_args()
    head_only, _ = load_nima(args.head_only)
    fine_tuned, spec = load_nima(args.fine_tuned)
    args.out.mkdir(parents=True, exist_ok=True)
    for alpha in args.alpha:
        fine_tuned_copy, _ = load_nima(args.fine_tuned)
        for variable, value in zip(fine_tuned_copy.weights, interpolate(head_only, fine_tuned, alpha)):
            variable.assign(value)
        path = save_nima(fine_tuned_copy, spec, args.out / f"wise_{alpha:g}.keras", force=True)
        print(path)


if __name__ == "__main__":
    main()
