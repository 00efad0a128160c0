"""Runs a bench/ reference script inside its own virtual environment.

`ensure("torch", ["torch", "numpy"])` returns when the modules import;
otherwise it creates `~/.cache/cis490-bench-<name>` (once), pip-installs
the packages there and re-runs the calling script with that venv's Python.
"""
import importlib
import os
import pathlib
import subprocess
import sys
import venv


def ensure(name, packages, modules=None):
    try:
        for module in modules or packages:
            importlib.import_module(module)
        return
    except ImportError:
        pass
    env = pathlib.Path.home() / ".cache" / f"cis490-bench-{name}"
    python = env / "bin" / "python"
    if pathlib.Path(sys.executable).resolve() == python.resolve():
        sys.exit(f"{name}: {packages} still do not import inside {env}")
    if not python.exists():
        print(f"creating {env} for {', '.join(packages)}", file=sys.stderr)
        venv.create(env, with_pip=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages],
                   check=True)
    os.execv(str(python), [str(python), *sys.argv])
