"""Summarizes cargo's `--timings` HTML reports: where a cold build's time went.

Usage: python3 bench/cargo_timings.py REPORT.html [REPORT.html ...] [--top N]

For each report (cargo writes them to <target dir>/cargo-timings/ with
`--timings`; `CIS490_TIMINGS=1 cargo xtask demo|test` passes the flag to
every build of the command) it prints the build's wall time, the summed
time of its units (CPU-bound: about twice the wall time on 2 cores), the
N slowest units, and the time by group: the workspace's crates, the
families that dominate (tract, burn, arrow/parquet, hessboost, the web
stack, wasm), build scripts, and the rest. Only the standard library.
"""
import json
import re
import sys

# Crate-name prefixes of the families reported together.
FAMILIES = [
    ("cis490 (workspace)", ("cis490-", "xtask")),
    ("tract", ("tract-",)),
    ("burn + cubecl + gemm", ("burn", "cubecl", "gemm", "macerator", "pulp")),
    ("hessboost", ("hessboost",)),
    ("arrow + parquet", ("arrow-", "parquet")),
    ("web stack (tokio, hyper, axum, tower)", ("tokio", "hyper", "axum", "tower", "h2", "tungstenite")),
    ("object store (object_store, reqwest, rustls, ring)", ("object_store", "reqwest", "rustls", "ring", "icu_")),
    ("leptos + wasm-bindgen", ("leptos", "reactive_", "tachys", "wasm-bindgen", "web-sys", "js-sys", "walrus")),
    ("zstd", ("zstd",)),
    ("serde + syn + proc-macro2", ("serde", "syn", "proc-macro2", "quote")),
]


def units_of(path):
    text = open(path, encoding="utf-8").read()
    match = re.search(r"const UNIT_DATA = (\[.*?\]);\n", text, re.S)
    if not match:
        sys.exit(f"{path}: no UNIT_DATA (is it a cargo --timings report?)")
    wall = re.search(r"<td>Total time:</td><td>([0-9.]+)s", text)
    return json.loads(match.group(1)), float(wall.group(1)) if wall else None


def family(name):
    for label, prefixes in FAMILIES:
        if name.startswith(prefixes):
            return label
    return "other"


def main():
    args = sys.argv[1:]
    top = 15
    if "--top" in args:
        at = args.index("--top")
        top = int(args[at + 1])
        del args[at : at + 2]
    if not args:
        sys.exit(__doc__)
    for path in args:
        units, wall = units_of(path)
        total = sum(u["duration"] for u in units)
        print(f"== {path}")
        print(f"wall {wall:.0f} s, units {len(units)}, summed unit time {total:.0f} s" if wall else f"summed {total:.0f} s")
        for u in sorted(units, key=lambda u: -u["duration"])[:top]:
            kind = " (build script)" if u["mode"] == "run-custom-build" else ""
            print(f"  {u['duration']:7.1f} s  {u['name']} {u['version']}{u['target']}{kind}")
        groups = {}
        for u in units:
            label = "build scripts" if u["mode"] == "run-custom-build" else family(u["name"])
            groups[label] = groups.get(label, 0.0) + u["duration"]
        for label, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
            print(f"  {seconds:7.1f} s  {100 * seconds / total:4.1f} %  {label}")


if __name__ == "__main__":
    main()
