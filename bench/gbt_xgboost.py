"""XGBoost reference for `cis490 bench gbt`: the same tables, rounds, depth,
learning rate and threads, with the `hist` tree method.

Usage: python bench/gbt_xgboost.py TABLES_DIR [--rounds 200] [--threads 2]
(TABLES_DIR is what `cis490 bench gbt` wrote.) Installs xgboost-cpu and
numpy into ~/.cache/cis490-bench-xgboost on first use (bench_env.py).
"""

import argparse
import json
import time

from bench_env import ensure

ensure("xgboost", ["xgboost-cpu", "numpy"], modules=["xgboost", "numpy"])

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402


def load(d, stem):
    meta = json.load(open(f"{d}/{stem}.json"))
    x = np.fromfile(f"{d}/{stem}.x.f32", dtype="<f4").reshape(meta["rows"], meta["cols"])
    y = np.fromfile(f"{d}/{stem}.y.u32", dtype="<u4")
    return x, y


def macro_f1(truth, pred, classes=7):
    scores = []
    for c in range(classes):
        tp = np.sum((truth == c) & (pred == c))
        fp = np.sum((truth != c) & (pred == c))
        fn = np.sum((truth == c) & (pred != c))
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tables")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    xt, yt = load(a.tables, "train")
    xv, yv = load(a.tables, "val")
    params = {"objective": "multi:softprob", "num_class": 7, "tree_method": "hist", "max_depth": 6,
              "eta": 0.1, "nthread": a.threads, "seed": 0}
    dtrain = xgb.DMatrix(xt, label=yt, missing=np.nan, nthread=a.threads)
    dval = xgb.DMatrix(xv, label=yv, missing=np.nan, nthread=a.threads)
    started = time.perf_counter()
    model = xgb.train(params, dtrain, num_boost_round=a.rounds)
    seconds = time.perf_counter() - started
    pred = model.predict(dval).argmax(axis=1)
    print(f"xgboost {xgb.__version__}: {a.rounds} rounds, depth 6, eta 0.1, {xt.shape[0]} x {xt.shape[1]} "
          f"training rows, {a.threads} threads: {seconds:.2f} s, validation macro F1 {macro_f1(yv, pred):.4f}")


if __name__ == "__main__":
    main()
