"""Estimate Raspberry Pi 4 / Pi 5 frame rates for a .tflite from its op counts and this machine's latency.

    python scripts/pi_estimate.py MODEL.tflite [--runs 50]
    python scripts/pi_estimate.py --build-reference OUT.tflite   # MobileNetV2 1.0 / 224 NIMA, int8 (needs TF)

Method (docs/raspberry-pi.md, "Frame rate on a Pi"):
1. Count multiply-accumulates per op from the flatbuffer's tensor shapes (CONV_2D:
   H*W*Cout*kh*kw*Cin, DEPTHWISE_CONV_2D: H*W*C*kh*kw, FULLY_CONNECTED: Cout*Cin).
2. Measure the model here with LiteRT (median of --runs after warm-up, 1 thread and all threads),
   giving the MAC rate this machine's XNNPACK actually reaches on *this* graph.
3. Scale to the Pi cores by their int8 SIMD multiply-accumulate rate per cycle and clock, relative
   to this machine's, with a band for how much of that rate XNNPACK reaches on small depthwise layers.
No timing under emulation is used: qemu runs the arm64 code tens of times slower than a Pi.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# int8 multiply-accumulates per cycle per core of the SIMD units XNNPACK uses (see the docs for sources):
#   Cortex-A72 (Pi 4, Armv8.0-A, no dot product): SMULL/SMLAL + SADALP on 128-bit NEON, ~8 MAC/cycle.
#   Cortex-A76 (Pi 5, Armv8.2-A dot product): SDOT, 16 int8 MACs each, 2 per cycle -> 32 MAC/cycle.
CORES = {
    "Pi 4 (4x Cortex-A72 @ 1.5 GHz)": {"ghz": 1.5, "int8_mac_per_cycle": 8, "cores": 4},
    "Pi 4 (4x Cortex-A72 @ 1.8 GHz, boards since 2022)": {"ghz": 1.8, "int8_mac_per_cycle": 8, "cores": 4},
    "Pi 5 (4x Cortex-A76 @ 2.4 GHz)": {"ghz": 2.4, "int8_mac_per_cycle": 32, "cores": 4},
}
# What share of peak XNNPACK reaches on a MobileNet-class graph: depthwise 3x3 layers and the
# small late layers are bound by memory and overhead, not multiplies. The low end is what a
# narrow-SIMD in-order-ish core typically gets, the high end what big GEMM-like layers get.
EFFICIENCY_BAND = (0.15, 0.45)
# 4 threads do not give 4x: the depthwise layers and the per-op sync do not scale.
THREAD_SCALING_4 = (2.0, 3.0)


def tensor_shapes(interpreter) -> dict[int, tuple[int, ...]]:
    return {d["index"]: tuple(int(s) for s in d["shape"]) for d in interpreter.get_tensor_details()}


def count_macs(model_path: Path) -> dict[str, int]:
    """Multiply-accumulates per op type, from tensor shapes (batch 1)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path))
    interpreter.allocate_tensors()
    shapes = tensor_shapes(interpreter)
    totals: dict[str, int] = {}
    for op in interpreter._get_ops_details():  # the public API has no per-op listing
        name = op["op_name"]
        inputs = [i for i in op["inputs"] if i >= 0]
        outputs = list(op["outputs"])
        if not outputs or name == "DELEGATE":
            continue
        out = shapes.get(outputs[0], ())
        if name == "CONV_2D" and len(inputs) >= 2:
            cout, kh, kw, cin = shapes[inputs[1]]
            macs = int(np.prod(out[1:3])) * cout * kh * kw * cin
        elif name == "DEPTHWISE_CONV_2D" and len(inputs) >= 2:
            _, kh, kw, channels = shapes[inputs[1]]
            macs = int(np.prod(out[1:3])) * channels * kh * kw
        elif name == "FULLY_CONNECTED" and len(inputs) >= 2:
            cout, cin = shapes[inputs[1]][-2:]
            macs = cout * cin
        else:
            macs = 0
        totals[name] = totals.get(name, 0) + macs
    return totals


def measure_ms(model_path: Path, threads: int, runs: int) -> float:
    """Median invoke() latency in ms on a fixed input (XNNPACK, as the runtime uses it)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    data = np.random.default_rng(0).integers(0, 256, detail["shape"]).astype(detail["dtype"])
    interpreter.set_tensor(detail["index"], data)
    for _ in range(5):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def estimate(macs: int, quantized: bool) -> dict[str, dict[str, float]]:
    """Latency and fps bands per Pi, from MACs, peak int8 rate and the efficiency band.

    A float32 model runs on 4-lane fp32 FMA instead (A72: 2 FMA pipes x 4 lanes = 8 MAC/cycle,
    A76: same width): int8 peaks are divided by 1 (A72) and 4 (A76) for float models.
    """
    result = {}
    for name, core in CORES.items():
        per_cycle = core["int8_mac_per_cycle"] if quantized else 8
        peak = core["ghz"] * 1e9 * per_cycle  # MAC/s, one core
        slow_ms = macs / (peak * EFFICIENCY_BAND[0]) * 1000
        fast_ms = macs / (peak * EFFICIENCY_BAND[1]) * 1000
        result[name] = {
            "1 thread ms": (fast_ms, slow_ms),
            "4 threads ms": (fast_ms / THREAD_SCALING_4[1], slow_ms / THREAD_SCALING_4[0]),
        }
    return result


def build_reference(out: Path) -> Path:
    """MobileNetV2 alpha 1.0, 224 px NIMA head, full int8 (uint8 in), metadata embedded. Needs TF."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from nima_edge.runtime.metadata import ModelMetadata, embed_metadata
    from nima_edge.training.model import NimaSpec, build_nima

    model = build_nima(NimaSpec(backbone="mobilenet_v2", alpha=1.0, input_size=224), base_weights="none")
    rng = np.random.default_rng(0)

    def representative():
        for _ in range(8):
            yield [rng.integers(0, 256, (1, 224, 224, 3)).astype(np.uint8)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    content = converter.convert()
    out.write_bytes(embed_metadata(content, ModelMetadata(quantization="int8", name="reference-mobilenet_v2")))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--build-reference", action="store_true", help="build MODEL as the reference model first")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.build_reference:
        build_reference(args.model)
    per_op = count_macs(args.model)
    macs = sum(per_op.values())
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(args.model))
    quantized = np.dtype(interpreter.get_input_details()[0]["dtype"]) == np.uint8 and any(
        d["dtype"] == np.int8 for d in interpreter.get_tensor_details())
    threads = os.cpu_count() or 1
    host = {"1 thread ms": measure_ms(args.model, 1, args.runs),
            f"{threads} threads ms": measure_ms(args.model, threads, args.runs)}
    host_gmacs = macs / (host["1 thread ms"] / 1000) / 1e9
    report = {"model": str(args.model), "int8": quantized, "macs": macs, "macs_by_op": per_op,
              "host": host, "host_gmac_per_s_1_thread": host_gmacs, "pi": estimate(macs, quantized)}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{args.model}: {macs / 1e6:.1f} M multiply-accumulates ({'int8' if quantized else 'float'}); by op: "
          + ", ".join(f"{k} {v / 1e6:.1f} M" for k, v in sorted(per_op.items(), key=lambda kv: -kv[1]) if v))
    print("this machine: " + ", ".join(f"{k} {v:.2f}" for k, v in host.items())
          + f" -> {host_gmacs:.1f} GMAC/s on one core")
    for name, bands in report["pi"].items():
        one, four = bands["1 thread ms"], bands["4 threads ms"]
        print(f"{name}: 1 thread {one[0]:.0f}-{one[1]:.0f} ms, 4 threads {four[0]:.0f}-{four[1]:.0f} ms "
              f"(model only: {1000 / four[1]:.0f}-{1000 / four[0]:.0f} inferences/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
