"""onnxruntime's latency per window on one model.onnx, one thread: the
reference figure `cis490 bench inference` prints next to its own engines.

Usage: onnxruntime_latency.py MODEL.onnx INPUTS.bin ROWS COLS WINDOWS OUT.bin

INPUTS.bin holds ROWS × COLS float32 values (little-endian, row-major).
Times WINDOWS single-window `InferenceSession.run` calls at batch 1 (rows
taken in turn, after 10 untimed ones) and runs of the whole ROWS batch;
writes the batch's probabilities to OUT.bin (float32) and prints one JSON
line: {"onnxruntime": version, "p50_us", "p99_us", "batched_us"}. The
figures include Python's call overhead (about a microsecond).
"""
import json
import math
import sys
import time

import numpy as np
import onnxruntime as ort


def percentile(sorted_times, p):
    i = min(max(math.ceil(len(sorted_times) * p), 1), len(sorted_times)) - 1
    return sorted_times[i]


def main() -> int:
    model, inputs, rows, cols, windows, out = sys.argv[1:7]
    rows, cols, windows = int(rows), int(cols), int(windows)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    x = np.fromfile(inputs, dtype="<f4").reshape(rows, cols)
    times = []
    for i in range(windows + 10):
        row = x[i % rows : i % rows + 1]
        started = time.perf_counter_ns()
        session.run(["probabilities"], {"input": row})
        if i >= 10:
            times.append((time.perf_counter_ns() - started) / 1e3)
    times.sort()
    rounds = max(windows // rows, 5)
    started = time.perf_counter_ns()
    for _ in range(rounds):
        (probs,) = session.run(["probabilities"], {"input": x})
    batched = (time.perf_counter_ns() - started) / 1e3 / (rounds * rows)
    probs.astype("<f4").tofile(out)
    print(json.dumps({
        "onnxruntime": ort.__version__,
        "p50_us": percentile(times, 0.5),
        "p99_us": percentile(times, 0.99),
        "batched_us": batched,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
