"""A plain numpy + pyarrow implementation of cis490's window features.

Two jobs:
- speed reference for `cis490 bench extract` (docs/performance.md);
- an independent check of the Rust maths: with --compare FEAT it reads the
  Rust summary shards and reports the largest difference per feature.

Usage:
  python bench/features_numpy.py STORE INDEX OUT.parquet [--compare FEAT] [--limit N]

Written from the corpus format and docs/features.md, not from the Rust code.
"""

import argparse
import glob
import io
import json
import sys
import tarfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

C, G, I = "counter", "gauge", "interval"
REGISTRY = {
    "proc": [("cpu_user", C), ("cpu_system", C), ("rss_bytes", G), ("vsize_bytes", G), ("num_threads", G),
             ("io_read_bytes", C), ("io_write_bytes", C), ("io_syscr", C), ("io_syscw", C),
             ("ctx_switches_voluntary", C), ("ctx_switches_involuntary", C), ("minor_faults", C), ("major_faults", C)],
    "guest": [("cpu_user", G), ("cpu_system", G), ("cpu_iowait", G), ("cpu_idle", G), ("load1", G),
              ("mem_available", G), ("mem_cached", G), ("swap_used", G), ("procs_running", G), ("procs_total", G),
              ("tcp_established", G), ("open_fds", G), ("disk_read_bytes", C), ("disk_write_bytes", C),
              ("eth0_rx_bytes", C), ("eth0_tx_bytes", C)],
    "qmp": [("vcpu_time_ns", C), ("kvm_exits", C), ("kvm_halt_exits", C), ("kvm_io_exits", C),
            ("block_rd_bytes", C), ("block_wr_bytes", C), ("block_rd_ops", C), ("block_wr_ops", C),
            ("balloon_actual", G)],
    "netflow": [("bytes_in", I), ("bytes_out", I), ("pkts_in", I), ("pkts_out", I), ("syn_count", I),
                ("tcp_count", G), ("udp_count", G), ("unique_dst_ports", G)],
}
PERIOD = {"proc": 500_000_000, "guest": 500_000_000, "qmp": 500_000_000, "netflow": 1_000_000_000}
STEP = 500_000_000
WINDOW_STEPS, STRIDE_STEPS = 20, 10
STATS = ["mean", "std", "min", "max", "delta", "p95"]
NAMES = [f"{s}.{f}.{st}" for s, fields in REGISTRY.items() for f, _ in fields for st in STATS]


def read_episode(path):
    with open(path, "rb") as fh:
        raw = zstandard.ZstdDecompressor().stream_reader(fh).read()
    members = {}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for m in tar.getmembers():
            if m.isfile() and m.name.endswith(".jsonl"):
                members[m.name] = tar.extractfile(m).read()
    return members


def source_arrays(text, fields):
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    t = np.array([r["t_wall_ns"] for r in rows], dtype=np.int64)
    cols = np.array([[np.nan if r.get(f) is None else float(r[f]) for f, _ in fields] for r in rows], dtype=np.float64)
    if len(rows) == 0:
        cols = np.zeros((0, len(fields)))
    keep = np.ones(len(t), dtype=bool)
    last = None
    for i, ti in enumerate(t):  # strictly increasing wall clock; duplicates dropped
        if last is not None and ti <= last:
            keep[i] = False
        else:
            last = ti
    return t[keep], cols[keep]


def series(kind, period, t, raw):
    if kind == G:
        return raw
    if kind == I:
        return raw / (period / 1e9)
    out = np.full(len(raw), np.nan)
    if len(raw) > 1:
        dt = np.diff(t) / 1e9
        dv = np.diff(raw)
        with np.errstate(invalid="ignore"):
            ok = (dt > 0) & (dv >= 0)
        out[1:][ok] = dv[ok] / dt[ok]
    return out


def grid(members, start, end):
    steps = max(0, (end - start) // STEP)
    ends = start + (np.arange(steps, dtype=np.int64) + 1) * STEP
    values, present = [], []
    for source, fields in REGISTRY.items():
        text = members.get(f"{source}.jsonl")
        if text is None:
            values += [np.zeros(steps, np.float32)] * len(fields)
            present += [np.zeros(steps, bool)] * len(fields)
            continue
        t, cols = source_arrays(text, fields)
        for j, (_, kind) in enumerate(fields):
            s = series(kind, PERIOD[source], t, cols[:, j])
            valid = np.isfinite(s)
            tv, sv = t[valid], s[valid]
            idx = np.searchsorted(tv, ends, side="left") - 1
            ok = idx >= 0
            ok[ok] = (ends[ok] - tv[idx[ok]]) <= PERIOD[source] + STEP
            v = np.where(ok, sv[np.clip(idx, 0, None)] if len(sv) else 0.0, np.nan).astype(np.float32)
            # forward fill missing steps with the last present value, 0 before any
            filled = np.zeros(steps, np.float32)
            last = np.float32(0.0)
            for k in range(steps):
                if ok[k]:
                    last = v[k]
                filled[k] = last
            values.append(filled)
            present.append(ok)
    return np.array(values), np.array(present)


def windows(segments, end):
    start = segments[0][0]
    out, k = [], 0
    while start + (k + WINDOW_STEPS) * STEP <= end:
        ws, we = start + k * STEP, start + (k + WINDOW_STEPS) * STEP
        cover = {}
        for i, (s, label) in enumerate(segments):
            e = segments[i + 1][0] if i + 1 < len(segments) else end
            cover[label] = cover.get(label, 0) + max(0, min(e, we) - max(s, ws))
        label, best = max(cover.items(), key=lambda kv: kv[1])
        if best >= 0.8 * WINDOW_STEPS * STEP:
            out.append((k, label))
        k += STRIDE_STEPS
    return out


def stats(v, p):
    kept = v[p].astype(np.float64)
    if len(kept) == 0:
        return [np.nan] * 6
    n = len(kept)
    mean = kept.sum() / n
    std = np.sqrt(((kept - mean) ** 2).sum() / n)
    srt = np.sort(kept)
    rank = min(max(int(np.ceil(0.95 * n)), 1), n)
    return [mean, std, srt[0], srt[-1], kept[-1] - kept[0], srt[rank - 1]]


def episode_rows(path, episode_id):
    members = read_episode(path)
    labels = [json.loads(l) for l in members["labels.jsonl"].splitlines() if l.strip()]
    segments = [(r["t_wall_ns"], r["label"]) for r in labels[:-1]]
    end = labels[-1]["t_wall_ns"]
    values, present = grid(members, segments[0][0], end)
    rows = []
    for k, label in windows(segments, end):
        feats = []
        for c in range(values.shape[0]):
            feats += stats(values[c, k:k + WINDOW_STEPS], present[c, k:k + WINDOW_STEPS])
        rows.append((episode_id, k * STEP / 1e9, label, np.array(feats, dtype=np.float32)))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("index")
    ap.add_argument("out")
    ap.add_argument("--compare")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    idx = pq.read_table(args.index).to_pandas()
    idx = idx[idx.status.isin(["accepted", "degraded"])]
    if args.limit:
        idx = idx.head(args.limit)
    started = time.perf_counter()
    rows = []
    for ep, rel in zip(idx.episode_id, idx.path):
        rows += episode_rows(f"{args.store}/{rel}", ep)
    table = pa.table({
        "episode_id": [r[0] for r in rows], "window_start_s": [r[1] for r in rows], "label": [r[2] for r in rows],
        **{name: pa.array(np.array([r[3][j] for r in rows], dtype=np.float32)) for j, name in enumerate(NAMES)},
    })
    pq.write_table(table, args.out, compression="zstd")
    seconds = time.perf_counter() - started
    print(f"numpy+pyarrow: {len(idx)} episodes, {len(rows)} windows in {seconds:.2f} s "
          f"({len(rows) / seconds:.0f} windows/s, {len(idx) / seconds:.1f} episodes/s, 1 process)")
    if args.compare:
        rust = pq.read_table(glob.glob(f"{args.compare}/summary/*.parquet")).to_pandas()
        ours = table.to_pandas()
        merged = rust.merge(ours, on=["episode_id", "window_start_s"], suffixes=("_rust", "_py"))
        assert len(merged) == len(ours), f"{len(ours)} python windows, {len(merged)} matched in the Rust shards"
        assert (merged.label_rust == merged.label_py).all(), "labels differ"
        worst = 0.0
        for name in NAMES:
            a, b = merged[f"{name}_rust"].to_numpy(np.float64), merged[f"{name}_py"].to_numpy(np.float64)
            both_nan = np.isnan(a) & np.isnan(b)
            assert not (np.isnan(a) ^ np.isnan(b)).any(), f"{name}: missing in one implementation only"
            rel = np.abs(a - b) / np.maximum(1.0, np.abs(b))
            rel[both_nan] = 0
            if rel.max() > worst:
                worst = rel.max()
            assert rel.max() <= 1e-5, f"{name}: relative difference {rel.max():.3g}"
        print(f"agreement: {len(merged)} windows x {len(NAMES)} features, largest relative difference {worst:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
