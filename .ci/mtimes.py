#!/usr/bin/env python3
"""Keeps cargo's builds fresh across clean clones.

Cargo decides whether a workspace crate must be compiled again from file
modification times, and a fresh clone makes every file newer than every
build in a kept target dir: CI would recompile all of cis490's crates in
every profile (tests, wasm bundles, the Pi binary) on every run, even when
only a README changed.

`record STAMP` (after a run) writes, for every tracked file, its blob hash
and modification time. `restore STAMP` (before the next run, in a new
clone) gives each file whose content is the same as then (same blob hash)
that run's modification time back; new and changed files keep the clone's,
so cargo rebuilds exactly what changed. Links and submodules are left
alone. Messages go to stderr: the last stdout line of `.ci/run` is the
test summary CI reads.
"""
import os
import subprocess
import sys


def tracked():
    """(path, blob hash) of every tracked file; a file edited in the work
    tree (not the case in CI's clean clone) gets no hash, so it counts as
    changed."""
    git = lambda *args: subprocess.run(["git", *args], check=True, capture_output=True).stdout
    edited = set(git("diff", "--name-only", "-z").split(b"\0"))
    for entry in git("ls-files", "-s", "-z").split(b"\0"):
        if not entry:
            continue
        meta, path = entry.split(b"\t", 1)
        mode, blob, _stage = meta.split(b" ")
        if mode in (b"120000", b"160000"):
            continue
        yield path, (b"edited" if path in edited else blob)


def record(stamp):
    temporary = stamp + ".tmp"
    with open(temporary, "wb") as out:
        for path, blob in tracked():
            try:
                modified = os.lstat(path).st_mtime_ns
            except OSError:
                continue
            out.write(blob + b" " + str(modified).encode() + b" " + path + b"\0")
    os.replace(temporary, stamp)


def restore(stamp):
    try:
        data = open(stamp, "rb").read()
    except FileNotFoundError:
        print("ci: no earlier run recorded here: cargo sees every file as new", file=sys.stderr)
        return
    earlier = {}
    for item in data.split(b"\0"):
        if item:
            blob, modified, path = item.split(b" ", 2)
            earlier[path] = (blob, int(modified))
    kept = changed = 0
    for path, blob in tracked():
        then = earlier.get(path)
        if then and then[0] == blob:
            os.utime(path, ns=(then[1], then[1]), follow_symlinks=False)
            kept += 1
        else:
            changed += 1
    print(f"ci: {kept} files as in the last run here keep its modification times; {changed} new or changed", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("record", "restore"):
        sys.exit("usage: mtimes.py record|restore STAMP")
    (record if sys.argv[1] == "record" else restore)(sys.argv[2])
