"""pandas re-reads an evaluation and recomputes its point scores.

Usage: check_eval.py EVAL_DIR

Reads EVAL_DIR/predictions.parquet and EVAL_DIR/report.json (written by
`cis490 eval`) and fails unless: the columns are the documented ones; each
row's probabilities sum to 1 and `predicted` is their argmax; and, for every
model x variant, macro F1 (scikit-learn's convention: mean F1 over labels in
truth or predictions), accuracy, window and episode counts and the
confusion matrix recomputed from the rows equal the report's, on the
held-out side and on the in-distribution side.
"""
import json
import pathlib
import sys

import numpy as np
import pandas as pd


def macro_f1(truth, predicted):
    scores = []
    for label in sorted(set(truth) | set(predicted)):
        tp = int(((truth == label) & (predicted == label)).sum())
        fp = int(((truth != label) & (predicted == label)).sum())
        fn = int(((truth == label) & (predicted != label)).sum())
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def close(a, b, what):
    assert abs(a - b) < 1e-9, f"{what}: recomputed {a}, report says {b}"


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    report = json.loads((out / "report.json").read_text())
    df = pd.read_parquet(out / "predictions.parquet")
    labels = report["labels"]
    expected = ["model", "variant", "split", "episode_id", "host_id", "window_start_s", "truth", "predicted"]
    expected += [f"prob_{label}" for label in labels]
    assert list(df.columns) == expected, f"columns {list(df.columns)}"
    probs = df[[f"prob_{label}" for label in labels]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4), "probabilities do not sum to 1"
    argmax = np.array(labels)[probs.argmax(axis=1)]
    assert (argmax == df["predicted"].to_numpy()).mean() > 0.999, "predicted is not the argmax"
    for entry in report["models"]:
        name = f"{entry['model']}-{entry['variant']}"
        mine = df[(df["model"] == entry["model"]) & (df["variant"] == entry["variant"])]
        held = mine[mine["split"] == entry["split"]]
        inside = mine[mine["split"] == "in_distribution"]
        assert len(held) == entry["windows"], f"{name}: {len(held)} held-out rows, report {entry['windows']}"
        assert held["episode_id"].nunique() == entry["episodes"], f"{name}: episodes"
        close(macro_f1(held["truth"], held["predicted"]), entry["macro_f1"]["point"], f"{name} macro F1")
        close(float((held["truth"] == held["predicted"]).mean()), entry["accuracy"]["point"], f"{name} accuracy")
        lo, point, hi = entry["macro_f1"]["lo"], entry["macro_f1"]["point"], entry["macro_f1"]["hi"]
        assert lo <= point <= hi, f"{name}: interval {lo} {point} {hi}"
        conf = entry["confusion"]
        table = pd.crosstab(held["truth"], held["predicted"]).reindex(
            index=conf["labels"], columns=conf["labels"], fill_value=0)
        assert table.to_numpy().tolist() == conf["matrix"], f"{name}: confusion differs"
        assert len(inside) == entry["in_distribution"]["windows"], f"{name}: in-distribution rows"
        close(macro_f1(inside["truth"], inside["predicted"]), entry["in_distribution"]["macro_f1"]["point"],
              f"{name} in-distribution macro F1")
        print(f"{name}: ok, macro F1 {point:.4f} over {len(held)} windows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
