"""Runs the recipes of docs/queries.md in DuckDB and Polars and checks them.

Usage: check_queries.py VALIDATION_DIR FEATURES_DIR EVAL_DIR [QUERIES_MD]

Reads the code blocks marked `<!-- recipe: NAME ENGINE -->` out of
docs/queries.md (so the doc cannot drift from what is tested), runs the
`config` block, points its folders at the arguments, runs the `setup`
blocks, then runs every recipe in both engines: a DuckDB block must leave
a relation and a Polars block a LazyFrame in the variable NAME. Each
recipe's rows must be the same in both engines and equal an independent
count made with pyarrow and plain Python (`episode_errors` is run for
every model x variant in predictions.parquet). Prints one `NAME: ok, ...`
line per recipe; exits non-zero, naming every recipe that failed.
"""

import collections
import datetime
import json
import math
import pathlib
import re
import sys

import pyarrow.compute as pc
import pyarrow.parquet as pq

BLOCK = re.compile(r"<!-- recipe: (\w+)(?: (duckdb|polars))? -->\n```python\n(.*?)```", re.S)
STATUSES = ["accepted", "degraded", "rejected", "errored"]
NS_PER_DAY = 86_400 * 10**9


class Mismatch(Exception):
    """A recipe's answer differs from another engine's or from pyarrow's."""


def read_blocks(doc):
    """The config code, the setup codes and {recipe: {engine: code}}."""
    config, setups, recipes = [], [], collections.defaultdict(dict)
    for name, engine, code in BLOCK.findall(pathlib.Path(doc).read_text()):
        if engine:
            if engine in recipes[name]:
                raise Mismatch(f"{doc}: recipe {name} has two {engine} blocks")
            recipes[name][engine] = code
        elif name == "config":
            config.append(code)
        elif name == "setup":
            setups.append(code)
        else:
            raise Mismatch(f"{doc}: block {name} names no engine")
    if len(config) != 1:
        raise Mismatch(f"{doc}: {len(config)} config blocks, expected 1")
    for name, engines in recipes.items():
        if set(engines) != {"duckdb", "polars"}:
            raise Mismatch(f"{doc}: recipe {name} has {sorted(engines)}, expected duckdb and polars")
    return config[0], setups, dict(recipes)


def namespace(doc, config, setups, folders):
    """The variables the recipes run with: config, then folders, then setup."""
    ns = {"__name__": "queries_md"}
    exec(compile(config, f"{doc}:config", "exec"), ns)
    ns.update(folders)
    for i, code in enumerate(setups):
        exec(compile(code, f"{doc}:setup{i}", "exec"), ns)
    return ns


def run_recipe(doc, name, engine, code, ns):
    """(columns, rows) of one engine's answer."""
    scope = dict(ns)
    exec(compile(code, f"{doc}:{name}/{engine}", "exec"), scope)
    if name not in scope:
        raise Mismatch(f"the {engine} block does not assign {name}")
    result = scope[name]
    if engine == "duckdb":
        if type(result).__name__ != "DuckDBPyRelation":
            raise Mismatch(f"the duckdb block leaves a {type(result).__name__}, not a relation")
        return list(result.columns), [tuple(r) for r in result.fetchall()]
    if type(result).__name__ != "LazyFrame":
        raise Mismatch(f"the polars block leaves a {type(result).__name__}, not a LazyFrame")
    df = result.collect()
    return list(df.columns), df.rows()


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def compare(what, got, want):
    """Fails with the first difference between two (columns, rows)."""
    (got_cols, got_rows), (want_cols, want_rows) = got, want
    if got_cols != want_cols:
        raise Mismatch(f"{what}: columns {got_cols}, expected {want_cols}")
    if len(got_rows) != len(want_rows):
        raise Mismatch(f"{what}: {len(got_rows)} rows, expected {len(want_rows)}")
    for i, (g, w) in enumerate(zip(got_rows, want_rows)):
        if len(g) != len(w) or not all(same(x, y) for x, y in zip(g, w)):
            raise Mismatch(f"{what}: row {i} is {g}, expected {w}")


# Independent answers: pyarrow reads and group-bys, plain Python counts.


def listed_shards(features):
    summary = json.loads((features / "extract_summary.json").read_text())
    return summary, [(f["name"], f["rows"]) for f in summary["shard_files"]]


def expect_windows_per_file(args):
    summary, listed = listed_shards(args["features"])
    present = sorted(p.name for p in (args["features"] / "summary").glob("*.parquet"))
    stray = sorted(set(present) - {n for n, _ in listed})
    if stray:
        raise Mismatch(f"files in summary/ that extract_summary.json does not list: {stray}")
    for name, rows in listed:
        on_disk = pq.ParquetFile(args["features"] / "summary" / name).metadata.num_rows
        if on_disk != rows:
            raise Mismatch(f"{name}: {on_disk} rows in the file, shard_files says {rows}")
    if sum(r for _, r in listed) != summary["windows"]:
        raise Mismatch(f"shard_files rows do not add up to windows {summary['windows']}")
    return ["file", "windows"], sorted(listed)


def read_index(args):
    return pq.read_table(args["validation"] / "validation_v1.parquet")


def expect_acceptance_per_host(args):
    counts = read_index(args).group_by(["host_id", "status"]).aggregate([("episode_id", "count")]).to_pydict()
    per_host = collections.defaultdict(collections.Counter)
    for host, status, n in zip(counts["host_id"], counts["status"], counts["episode_id_count"]):
        per_host[host][status] += n
    rows = []
    for host in sorted(per_host):
        c = per_host[host]
        episodes = sum(c.values())
        rows.append((host, episodes, *(c[s] for s in STATUSES), c["accepted"] / episodes))
    return ["host_id", "episodes", *STATUSES, "acceptance_rate"], rows


def expect_acceptance_per_host_day(args):
    index = read_index(args).select(["host_id", "status", "started_wall_ns"]).to_pydict()
    episodes, accepted = collections.Counter(), collections.Counter()
    for host, status, ns in zip(index["host_id"], index["status"], index["started_wall_ns"]):
        day = None if ns is None else datetime.date(1970, 1, 1) + datetime.timedelta(days=ns // NS_PER_DAY)
        episodes[host, day] += 1
        accepted[host, day] += status == "accepted"
    keys = sorted(episodes, key=lambda k: (k[0], k[1] is None, k[1] or datetime.date.min))
    rows = [(h, d, episodes[h, d], accepted[h, d], accepted[h, d] / episodes[h, d]) for h, d in keys]
    return ["host_id", "day", "episodes", "accepted", "acceptance_rate"], rows


def expect_windows_per_profile(args):
    summary, listed = listed_shards(args["features"])
    episodes, windows, attack = collections.defaultdict(set), collections.Counter(), collections.Counter()
    for name, _ in listed:
        shard = pq.read_table(args["features"] / "summary" / name, columns=["profile", "episode_id", "label"])
        for profile, episode, label in zip(*(shard[c].to_pylist() for c in ["profile", "episode_id", "label"])):
            episodes[profile].add(episode)
            windows[profile] += 1
            attack[profile] += label != "benign"
    if sum(windows.values()) != summary["windows"]:
        raise Mismatch(f"the listed shards hold {sum(windows.values())} windows, the summary says {summary['windows']}")
    rows = [(p, len(episodes[p]), windows[p], attack[p]) for p in sorted(windows)]
    return ["profile", "episodes", "windows", "attack_windows"], rows


def expect_episode_errors(args, model, variant):
    index = read_index(args).select(["episode_id", "host_id", "profile"]).to_pydict()
    profile = {(e, h): p for e, h, p in zip(index["episode_id"], index["host_id"], index["profile"])}
    table = pq.read_table(args["eval"] / "predictions.parquet")
    keep = pc.and_(
        pc.and_(pc.equal(table["model"], model), pc.equal(table["variant"], variant)),
        pc.not_equal(table["split"], "in_distribution"),
    )
    rows = table.filter(keep).select(["episode_id", "host_id", "truth", "predicted"]).to_pydict()
    windows, wrong = collections.Counter(), collections.Counter()
    for key in zip(rows["episode_id"], rows["host_id"], rows["truth"], rows["predicted"]):
        windows[key[:2]] += 1
        wrong[key[:2]] += key[2] != key[3]
    keys = sorted((k for k in windows if wrong[k] > 0), key=lambda k: (-wrong[k], k[0]))
    out = [(e, h, profile.get((e, h)), windows[e, h], wrong[e, h], wrong[e, h] / windows[e, h]) for e, h in keys]
    return ["episode_id", "host_id", "profile", "windows", "wrong", "error_rate"], out


EXPECTED = {
    "windows_per_file": expect_windows_per_file,
    "acceptance_per_host": expect_acceptance_per_host,
    "acceptance_per_host_day": expect_acceptance_per_host_day,
    "windows_per_profile": expect_windows_per_profile,
    "episode_errors": expect_episode_errors,
}


def main() -> int:
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    validation, features, evaluation = (pathlib.Path(a) for a in sys.argv[1:4])
    doc = sys.argv[4] if len(sys.argv) == 5 else str(pathlib.Path(__file__).resolve().parents[2] / "docs/queries.md")
    args = {"validation": validation, "features": features, "eval": evaluation}
    folders = {"VALIDATION": str(validation), "FEATURES": str(features), "EVAL": str(evaluation)}
    try:
        config, setups, recipes = read_blocks(doc)
    except Mismatch as e:
        print(f"FAIL {e}")
        return 1
    failed = sorted(set(EXPECTED) - set(recipes)) + sorted(set(recipes) - set(EXPECTED))
    for name in failed:
        print(f"FAIL {name}: in {'the checks' if name in EXPECTED else doc} only; each recipe needs both")
    predictions = pq.read_table(evaluation / "predictions.parquet", columns=["model", "variant"])
    pairs = sorted(set(zip(predictions["model"].to_pylist(), predictions["variant"].to_pylist())))
    if not pairs or read_index(args).num_rows == 0 or not listed_shards(features)[1]:
        print("FAIL the outputs are empty: nothing to check the recipes on")
        return 1
    for name in sorted(set(EXPECTED) & set(recipes)):
        runs = [{}] if name != "episode_errors" else [{"MODEL": m, "VARIANT": v} for m, v in pairs]
        rows = 0
        try:
            for params in runs:
                label = name + "".join(f" {p}={v}" for p, v in params.items())
                ns = namespace(doc, config, setups, {**folders, **params})
                extra = (params["MODEL"], params["VARIANT"]) if params else ()
                want = EXPECTED[name](args, *extra)
                duck = run_recipe(doc, name, "duckdb", recipes[name]["duckdb"], ns)
                polars = run_recipe(doc, name, "polars", recipes[name]["polars"], ns)
                compare(f"{label}: duckdb vs polars", duck, polars)
                compare(f"{label}: duckdb vs pyarrow", duck, want)
                rows += len(want[1])
        except Exception as e:  # any failure, reported under the recipe's name
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            failed.append(name)
            continue
        print(f"{name}: ok, {rows} rows over {len(runs)} run(s), duckdb = polars = pyarrow")
    if failed:
        print(f"recipes failing: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
