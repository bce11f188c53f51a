#!/usr/bin/env python3
"""Bootstrap + run with nothing but Python >= 3.11 and pip.

    python3 dev.py quickstart   # venv, install, quickstart sweep on a local Dask cluster + figures
    python3 dev.py test [ARGS]  # venv, install, the test suite (pytest ARGS)
    python3 dev.py bench        # the benchmark scripts in benchmarks/

The virtual environment lives in .venv (re-installed when pyproject.toml changes).
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


def run(cmd: list[str]) -> int:
    print("[dev] " + " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("quickstart", "test", "bench"):
        print(__doc__)
        return 2
    ensure_venv()
    what, rest = argv[0], argv[1:]
    if what == "test":
        return run([str(PY), "-m", "pytest", *rest])
    if what == "bench":
        rc = 0
        for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
            rc |= run([str(PY), str(script)])
        return rc
    store = ROOT / "data" / "quickstart.zarr"
    if store.exists():  # a default output: start afresh
        shutil.rmtree(store)
    rc = run([str(BIN / "tgsweep"), "run", "workflows/quickstart.toml", "--out", str(store),
              "--workers", "2"])
    if rc:
        return rc
    return run([str(BIN / "tgsweep"), "plot", str(store), "--outdir",
                str(ROOT / "data" / "quickstart-figures")])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
