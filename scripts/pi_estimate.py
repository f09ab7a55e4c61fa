"""Estimate Raspberry Pi 4 / Pi 5 frame rates for a .tflite from its op counts and this machine's latency.

    python scripts/pi_estimate.py MODEL.tflite [--runs 50]
    python scripts/pi_estimate.py --build-reference OUT.tflite   # MobileNetV2 1.0 / 224 NIMA, int8 (needs TF)

Method (docs/raspberry-pi.md, "Frame rate on a Pi"):
1. Count multiply-accumulates per op from the flatbuffer's tensor shapes (CONV_2D:
   H*W*Cout*kh*kw*Cin, DEPTHWISE_CONV_2D: H*W*C*kh*kw, FULLY_CONNECTED: Cout*Cin).
2. Measure the model here with LiteRT (fastest of --runs after warm-up, 1 thread and all threads),
   giving the MAC rate this machine's XNNPACK actually reaches on *this* graph.
3. Divide by this machine's peak int8 (or fp32) rate: the share of peak XNNPACK reaches on *this*
   graph. Assume a Pi core reaches between half of that share and that share of its own peak
   (Cortex-A72: ~8 int8 MAC/cycle, no dot product; Cortex-A76: 32 with SDOT), and 2-3x from 4 threads.
No timing under emulation is used: qemu runs the arm64 code tens of times slower than a Pi.
"""
from __future__ import annotations

import argparse
import json
import os
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
# This machine's peak, to turn the measured latency into "share of peak reached" (an assumption
# stated in the docs): AVX-512 VNNI VPDPBUSD does 64 int8 MACs and server cores issue two a
# cycle; AVX2 VPMADDUBSW+VPMADDWD ~32; fp32 FMA: 2 ports x 16 lanes (AVX-512) or x 8 (AVX2).
HOST_INT8_MAC_PER_CYCLE = (("avx512_vnni", 128), ("avx_vnni", 64), ("avx2", 32))
HOST_FP32_MAC_PER_CYCLE = (("avx512f", 32), ("avx2", 16))
# 4 threads do not give 4x: the depthwise layers and the per-op sync do not scale.
THREAD_SCALING_4 = (2.0, 3.0)


def host_peak(quantized: bool) -> tuple[float, str]:
    """(MAC/s of one core of this machine at its nominal clock, how it was derived)."""
    flags: set[str] = set()
    mhz = 0.0
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
        elif line.startswith("cpu MHz") and not mhz:
            mhz = float(line.split(":", 1)[1])
    table = HOST_INT8_MAC_PER_CYCLE if quantized else HOST_FP32_MAC_PER_CYCLE
    per_cycle, flag = next(((n, f) for f, n in table if f in flags), (8, "none"))
    mhz = mhz or 2000.0
    return mhz * 1e6 * per_cycle, f"{per_cycle} MAC/cycle ({flag}) x {mhz:.0f} MHz"


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
    """Fastest invoke() latency in ms on a fixed input (XNNPACK, as the runtime uses it).

    The fastest of many runs, not the median: this machine is shared, and the fastest run is
    the one closest to an unloaded core, which is what a kiosk Pi has.
    """
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
    return min(times)


def estimate(macs: int, quantized: bool, efficiency: tuple[float, float]) -> dict[str, dict[str, tuple]]:
    """Latency bands per Pi from MACs, the Pi core's peak rate and the (low, high) share of peak.

    A float32 model runs on 4-lane fp32 FMA instead: 2 pipes x 4 lanes = 8 MAC/cycle on both cores.
    """
    result = {}
    for name, core in CORES.items():
        per_cycle = core["int8_mac_per_cycle"] if quantized else 8
        peak = core["ghz"] * 1e9 * per_cycle  # MAC/s, one core
        slow_ms = macs / (peak * efficiency[0]) * 1000
        fast_ms = macs / (peak * efficiency[1]) * 1000
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
    parser.add_argument("--host-ms", type=float, default=None,
                        help="use this 1-thread latency of this machine instead of measuring (e.g. a quiet-machine figure)")
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
    if args.host_ms:
        host = {"1 thread ms (given)": args.host_ms}
    else:
        host = {"1 thread ms (fastest)": measure_ms(args.model, 1, args.runs),
                f"{threads} threads ms (fastest)": measure_ms(args.model, threads, args.runs)}
    host_gmacs = macs / (next(iter(host.values())) / 1000) / 1e9
    peak, how = host_peak(quantized)
    # The share of peak XNNPACK reaches here is the high end for a Pi core; half of it the low end
    # (smaller caches, a quarter of the memory bandwidth, narrower out-of-order windows).
    high = min(0.5, host_gmacs * 1e9 / peak)
    efficiency = (high / 2, high)
    report = {"model": str(args.model), "int8": quantized, "macs": macs, "macs_by_op": per_op,
              "host": host, "host_gmac_per_s_1_thread": host_gmacs, "host_peak": how,
              "share_of_peak": efficiency, "pi": estimate(macs, quantized, efficiency)}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{args.model}: {macs / 1e6:.1f} M multiply-accumulates ({'int8' if quantized else 'float'}); by op: "
          + ", ".join(f"{k} {v / 1e6:.1f} M" for k, v in sorted(per_op.items(), key=lambda kv: -kv[1]) if v))
    print("this machine: " + ", ".join(f"{k} {v:.2f}" for k, v in host.items())
          + f" -> {host_gmacs:.1f} GMAC/s on one core, {efficiency[1]:.0%} of its peak ({how})")
    print(f"assumed share of peak on a Pi core: {efficiency[0]:.0%}-{efficiency[1]:.0%}")
    for name, bands in report["pi"].items():
        one, four = bands["1 thread ms"], bands["4 threads ms"]
        print(f"{name}: 1 thread {one[0]:.0f}-{one[1]:.0f} ms, 4 threads {four[0]:.0f}-{four[1]:.0f} ms "
              f"(model only: {1000 / four[1]:.0f}-{1000 / four[0]:.0f} inferences/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
