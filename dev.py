#!/usr/bin/env python3
"""Bootstrap + run with nothing but Python >= 3.11 and pip.

    python3 dev.py quickstart   # venv, install, quickstart sweep on a local Dask cluster + figures
    python3 dev.py test [ARGS]  # venv, install, the test suite (pytest ARGS)
    python3 dev.py bench        # the benchmark scripts in benchmarks/
    python3 dev.py run CMD ...  # any command inside the venv, e.g.
                                #   python3 dev.py run tgsweep status data/quickstart.zarr
                                #   python3 dev.py run python my_script.py

The virtual environment lives in .venv (re-installed when pyproject.toml changes); instead of
`dev.py run` you can activate it in your shell: `. .venv/bin/activate`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".tgsweep-installed"


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit("tgsweep needs Python >= 3.11")
    if not PY.exists():
        print(f"[dev] creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pyproject = ROOT / "pyproject.toml"
    if not STAMP.exists() or STAMP.stat().st_mtime < pyproject.stat().st_mtime:
        print("[dev] installing tgsweep and its test/plot/cluster extras", flush=True)
        subprocess.check_call([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"])
        subprocess.check_call([str(PY), "-m", "pip", "install", "-q", "-e",
                               f"{ROOT}[test,plot,cluster]"])
        STAMP.write_text("ok\n")


def venv_env() -> dict:
    """The environment of an activated .venv: its bin/ first on PATH, VIRTUAL_ENV set."""
    env = dict(os.environ)
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(VENV)
    env.pop("PYTHONHOME", None)
    return env


def run(cmd: list[str], cwd: Path = ROOT) -> int:
    print("[dev] " + " ".join(cmd).replace(str(ROOT) + os.sep, ""), flush=True)
    return subprocess.call(cmd, cwd=cwd, env=venv_env())


def run_in_venv(cmd: list[str]) -> int:
    """``dev.py run CMD ...``: CMD with the venv's bin/ first on PATH, in the current directory."""
    if not cmd:
        print("usage: python3 dev.py run CMD [ARGS...]   "
              "(e.g. tgsweep status data/quickstart.zarr)")
        return 2
    exe = shutil.which(cmd[0], path=str(BIN) + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        print(f"[dev] {cmd[0]}: command not found (in {BIN} or on PATH)", file=sys.stderr)
        return 127
    return subprocess.call([exe, *cmd[1:]], env=venv_env())


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("quickstart", "test", "bench", "run"):
        print(__doc__)
        return 2
    ensure_venv()
    what, rest = argv[0], argv[1:]
    if what == "run":
        return run_in_venv(rest)
    if what == "test":
        return run([str(PY), "-m", "pytest", *rest])
    if what == "bench":
        rc = 0
        for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
            rc |= run([str(PY), str(script)])
        return rc
    store = ROOT / "data" / "quickstart.zarr"
    figures = ROOT / "data" / "quickstart-figures"  # = tgsweep plot's default for the store
    for old in (store, figures):
        if old.exists():  # default outputs: start afresh, and say so
            print(f"[dev] removing the previous {old.relative_to(ROOT)}", flush=True)
            shutil.rmtree(old)
    rc = run([str(BIN / "tgsweep"), "run", "workflows/quickstart.toml", "--out", str(store),
              "--dask", "--workers", "2"])
    if rc:
        return rc
    rc = run([str(BIN / "tgsweep"), "plot", str(store), "--outdir", str(figures)])
    if rc == 0:
        print(f"[dev] done: store {store.relative_to(ROOT)}, figures in "
              f"{figures.relative_to(ROOT)}/observables/\n"
              "[dev] next: `. .venv/bin/activate` (then `tgsweep status data/quickstart.zarr`), "
              "or `python3 dev.py run tgsweep status data/quickstart.zarr`", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
