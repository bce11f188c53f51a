"""Shared helpers of the sweep tests: tiny lattice specs, TOML writing, store comparison."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tgsweep.threads import PIN_ENV as PIN  # one BLAS/OpenMP/numba thread in subprocesses

BASE = {
    "model": {"kind": "lattice", "sites": 12},
    "disorder": {"kind": "anderson", "W": 1.0},
    "state": {"mu": 0.0},
    "grid": {"disorder.W": [0.5, 3.0]},
    "sampling": {"n_samples": 6, "seed": 11, "samples_per_task": 4},
    "observables": {"energy": {}, "particle_numbers": {}, "density": {}, "condensate": {"n_modes": 3}},
}


def spec_dict(**sections) -> dict:
    d = copy.deepcopy(BASE)
    for k, v in sections.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def to_toml(d: dict) -> str:
    """Tiny TOML writer for spec dicts (tables of scalars / lists, nested tables)."""
    lines = []

    def table(prefix, tab):
        scalars = {k: v for k, v in tab.items() if not isinstance(v, dict)}
        subs = {k: v for k, v in tab.items() if isinstance(v, dict)}
        lines.append(f"[{prefix}]")
        for k, v in scalars.items():
            key = f'"{k}"' if "." in k else k
            lines.append(f"{key} = {_toml_value(v)}")
        for k, v in subs.items():
            table(f"{prefix}.{k}", v)

    for sec, tab in d.items():
        if isinstance(tab, dict):
            table(sec, tab)
        else:
            lines.insert(0, f"{sec} = {_toml_value(tab)}")
    return "\n".join(lines) + "\n"


def write_spec(path: Path, d: dict) -> Path:
    path.write_text(to_toml(d))
    return path


def cli(*args, check=False, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, **PIN}
    res = subprocess.run([sys.executable, "-m", "tgsweep.cli", *map(str, args)],
                         capture_output=True, text=True, env=env, timeout=300, **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"tgsweep {args} failed ({res.returncode}):\n{res.stderr}")
    return res


def arrays(path) -> dict:
    """All raw variables of a store as NumPy arrays (not the summary group)."""
    from tgsweep.sweep import open_dataset

    ds = open_dataset(path)
    return {k: np.asarray(v.values) for k, v in ds.data_vars.items()}


def assert_stores_equal(a: dict, b: dict, skip=()) -> None:
    assert set(a) == set(b)
    for k in a:
        if k in skip:
            continue
        x, y = a[k], b[k]
        assert x.shape == y.shape, k
        if x.dtype.kind == "f":
            # bitwise: same bytes (NaN == NaN)
            assert x.tobytes() == y.tobytes(), f"{k} differs"
        else:
            if x.dtype.kind in "iub":
                assert np.array_equal(x, y), f"{k} differs"
            else:  # strings (StringDType from zarr)
                assert [str(v) for v in x.ravel()] == [str(v) for v in y.ravel()], f"{k} differs"
