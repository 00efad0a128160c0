"""NumPy reference for `cis490 bench eval`: the episode (cluster) bootstrap
of macro F1 for every model x variant in a predictions.parquet written by
`cis490 eval`, vectorised: per-episode confusion matrices, then one
matrix product per model for all resamples.

Usage: python bench/eval_numpy.py RUN/eval-bench/predictions.parquet [--resamples 2000]
Installs numpy, pandas and pyarrow into ~/.cache/cis490-bench-eval on first
use (bench_env.py). Prints the seconds of the bootstrap alone (the Rust
`score` phase also does per-class, per-profile, per-host intervals and the
paired comparisons) and each model's macro F1 with its 95 % interval.
"""

import argparse
import time

from bench_env import ensure

ensure("eval", ["numpy", "pandas", "pyarrow"])

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def macro_f1(conf, present):
    """conf: (..., k, k) truth x predicted counts -> (...,) mean F1 over the
    labels `present` (a label without a true positive counts 0)."""
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    denom = conf.sum(axis=-1) + conf.sum(axis=-2)
    f1 = 2 * tp / np.maximum(denom, 1)
    return (f1 * present).sum(axis=-1) / max(present.sum(), 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("predictions")
    ap.add_argument("--resamples", type=int, default=2000)
    args = ap.parse_args()
    df = pd.read_parquet(args.predictions)
    held_out = df[df["split"] != "in_distribution"]
    labels = sorted(set(df["truth"]) | set(df["predicted"]))
    k = len(labels)
    index = {label: i for i, label in enumerate(labels)}
    episodes = sorted(held_out["episode_id"].unique())
    started = time.perf_counter()
    rng = np.random.default_rng(490)
    draws = rng.integers(0, len(episodes), size=(args.resamples, len(episodes)))
    weights = np.zeros((args.resamples, len(episodes)))
    np.add.at(weights, (np.arange(args.resamples)[:, None], draws), 1)
    rows = []
    for (model, variant), g in held_out.groupby(["model", "variant"], sort=True):
        e = g["episode_id"].map({ep: i for i, ep in enumerate(episodes)}).to_numpy()
        t = g["truth"].map(index).to_numpy()
        p = g["predicted"].map(index).to_numpy()
        per_episode = np.zeros((len(episodes), k * k))
        np.add.at(per_episode, (e, t * k + p), 1)
        observed = per_episode.sum(axis=0).reshape(k, k)
        # The label set of the data as observed scores every resample.
        present = (observed.sum(axis=0) + observed.sum(axis=1)) > 0
        resampled = (weights @ per_episode).reshape(-1, k, k)
        f1 = macro_f1(resampled, present)
        point = macro_f1(observed, present)
        lo, hi = np.percentile(f1, [2.5, 97.5])
        rows.append((f"{model}-{variant}", point, lo, hi))
    seconds = time.perf_counter() - started
    for name, point, lo, hi in rows:
        print(f"{name:<24} {point:.3f} [{lo:.3f}, {hi:.3f}]")
    print(f"numpy: {len(rows)} models x {args.resamples} resamples of {len(episodes)} episodes "
          f"(macro F1 only): {seconds:.3f} s")


if __name__ == "__main__":
    main()
