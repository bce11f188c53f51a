"""Thread policy (tgsweep.threads): one BLAS thread per process by default, outside Dask too.

Reference: the policy stated in the tgsweep.threads docstring (``import tgsweep`` limits the
loaded BLAS pools to ``TGSWEEP_BLAS_THREADS`` threads, default 1; ``keep`` leaves them alone);
thread counts are read back independently through threadpoolctl.threadpool_info in a fresh
interpreter whose environment has no thread variables (what a user's plain shell gives).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tgsweep import threads

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, numpy, scipy.linalg
from threadpoolctl import threadpool_info
before = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
import tgsweep
after = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
print(json.dumps({"before": before, "after": after}))
"""


def _probe(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in threads.PIN_ENV and k != threads.ENV_SWITCH}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=120)


def test_import_limits_blas_to_one_thread_without_any_environment():
    """A plain environment: every BLAS library loaded (NumPy's and SciPy's OpenBLAS) runs one
    thread after ``import tgsweep``, whatever it ran before."""
    res = _probe()
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["after"], "no BLAS library found by threadpoolctl"
    assert set(d["after"].values()) == {1}


def test_keep_switch_leaves_the_libraries_alone():
    res = _probe(TGSWEEP_BLAS_THREADS="keep")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["after"] == d["before"]


def test_bad_switch_value_names_the_variable():
    res = _probe(TGSWEEP_BLAS_THREADS="many")
    assert res.returncode != 0
    assert "TGSWEEP_BLAS_THREADS" in res.stderr and "'keep'" in res.stderr


def test_limit_blas_and_restore():
    """limit_blas(n) sets the pools now; limit_blas(None) restores what was there before the
    first limit (the import-time one included)."""
    from threadpoolctl import threadpool_info

    threads.limit_blas(1)
    assert set(threads.blas_threads().values()) == {1}
    threads.limit_blas(None)
    restored = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
    try:
        assert all(n >= 1 for n in restored.values())
    finally:
        threads.apply_default()
    assert set(threads.blas_threads().values()) == {1}
    with pytest.raises(ValueError, match="positive integer"):
        threads.limit_blas(0)


def test_pin_env_defaults_and_pinned_environ_forces():
    env = {"OPENBLAS_NUM_THREADS": "4"}
    threads.pin_env(env)
    assert env["OPENBLAS_NUM_THREADS"] == "4"  # explicit settings win
    assert env["VECLIB_MAXIMUM_THREADS"] == "1" and env["NUMBA_NUM_THREADS"] == "1"
    forced = threads.pinned_environ({"OPENBLAS_NUM_THREADS": "4", "HOME": "/x"})
    assert forced["OPENBLAS_NUM_THREADS"] == "1" and forced["HOME"] == "/x"


def test_one_declaration_used_by_runner_cli_and_tests():
    """The worker environment, the CLI and the test helpers use the same PIN_ENV object."""
    import _sweep_util
    from tgsweep.sweep import runner

    assert runner.PIN_ENV is threads.PIN_ENV and _sweep_util.PIN is threads.PIN_ENV
    assert set(threads.PIN_ENV) == {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                    "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                                    "VECLIB_MAXIMUM_THREADS"}
    cli_src = (ROOT / "tgsweep" / "cli.py").read_text()
    assert "NUM_THREADS" not in cli_src  # no second copy of the variables
