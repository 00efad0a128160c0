"""Reads cis490's acceptance index with pyarrow and pandas, as lab users do.

Usage: python check_index.py DIR EXPECTED_EPISODES
Exits non-zero, naming the problem, when the index is not what the corpus
format promises.
"""

import json
import sys

import pandas as pd
import pyarrow.parquet as pq

REQUIRED = [
    "episode_id", "host_id", "profile", "sample_id", "status", "reasons",
    "started_wall_ns", "duration_s", "rows_proc", "rows_guest", "rows_qmp",
    "rows_netflow", "archive_sha256", "archive_bytes", "path",
]


def main() -> int:
    out_dir, expected = sys.argv[1], int(sys.argv[2])
    table = pq.read_table(f"{out_dir}/validation_v1.parquet")
    missing = [c for c in REQUIRED if c not in table.column_names]
    assert not missing, f"pyarrow: columns missing: {missing}"
    assert str(table.schema.field("reasons").type) in ("list<item: string>", "list<element: string>"), table.schema
    df = pd.read_parquet(f"{out_dir}/validation_v1.parquet", dtype_backend="numpy_nullable")
    assert len(df) == expected, f"pandas: {len(df)} rows, expected {expected}"
    assert set(df.status) <= {"accepted", "degraded", "rejected", "errored"}, set(df.status)
    bad = df[(df.status != "accepted") & (df.reasons.map(len) == 0)]
    assert bad.empty, f"non-accepted episodes without reasons: {list(bad.episode_id)}"
    good = df[df.status == "accepted"]
    assert (good.reasons.map(len) == 0).all(), "accepted episodes with reasons"
    assert good.started_wall_ns.min() > 1_700_000_000 * 10**9, "started_wall_ns lost precision or is not ns"
    summary = json.load(open(f"{out_dir}/validation_summary.json"))
    counts = df.status.value_counts().to_dict()
    for status in ("accepted", "degraded", "rejected", "errored"):
        assert summary[status] == counts.get(status, 0), (status, summary[status], counts)
    print(f"pandas {pd.__version__} / pyarrow: {len(df)} rows, {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
