"""Bitwise reproducibility across processes: a stored number never depends on compile history.

What this guards: the sweep's promise that where a task runs (client, process-pool worker,
LocalCluster worker, SLURM job) cannot change a single bit of the stored data
(``tests/test_slurm.py`` checks it end to end on a real SLURM).  A kernel compiled by numba
used to take ``fastmath`` from whichever kernel's compilation first needed it (numba's
``Flags.inherit_if_not_set``).  The on-disk cache keys a kernel by its argument types only, so
the order of the first compilations in the process that filled a cache decided the last bits of
gamma and of ``lambda0`` / ``occupations`` in every process that loaded that cache.  The
policy, stated in :mod:`tgsweep.core.jit`: every kernel states its floating-point flags.

Reference: the stored values of one process are compared byte for byte with those of another
(no tolerance).  The second process filled its own cache in a different order.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import tgsweep
from tgsweep.core.jit import FMA, njit
from tgsweep.threads import pinned_environ

ROOT = Path(__file__).resolve().parents[1]

#: the LocalCluster / SLURM spec of tests/test_slurm.py (32 sites, N = 5: the grouped OBDM
#: kernel), whose lambda0 at (grid point 1, sample 5) differed in the last bits between a
#: LocalCluster run and a SLURM run
SPEC = """
[model]
kind = "lattice"
sites = 32
[disorder]
kind = "uniform"
width = 1.0
[state]
n_particles = 5
[grid]
"disorder.width" = [0.5, 2.0]
[sampling]
n_samples = 8
seed = 7
samples_per_task = 2
[observables.energy]
[observables.density]
[observables.condensate]
"""

#: one process: ``first`` decides what is compiled first (into a fresh cache), then the
#: samples' stored values are printed as hex bytes
CHILD = r"""
import json, sys, tomllib
import numpy as np
from tgsweep.core.obdm import obdm_lattice
from tgsweep.sweep import tasks
from tgsweep.sweep.spec import parse_spec

first, spec_text = sys.argv[1], sys.argv[2]
if first == "blocked":
    # an OBDM with N = 40 orbitals: the blocked sweep (fastmath=True level-3 kernels) is
    # compiled before the grouped sweep that the spec's N = 5 samples use
    u = np.linalg.qr(np.random.default_rng(0).standard_normal((96, 40)))[0]
    obdm_lattice(u)
spec = parse_spec(tomllib.loads(spec_text))
layouts = tasks.layouts_of(spec)
out = {}
for p, s in ((1, 3), (1, 5), (0, 0)):
    values, code, err = tasks.run_sample(spec, p, s, layouts)
    assert code == tasks.STATUS["ok"], err
    out[f"{p},{s}"] = {k: np.ascontiguousarray(v).tobytes().hex() for k, v in values.items()}
print(json.dumps(out))
"""


def _child(first: str, cache: Path) -> subprocess.Popen:
    env = pinned_environ()
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["NUMBA_CACHE_DIR"] = str(cache)
    return subprocess.Popen([sys.executable, "-c", CHILD, first, SPEC], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return json.loads(out)


@pytest.mark.slow
def test_stored_bits_independent_of_kernel_compile_order(tmp_path):
    """Two processes, each with an empty numba cache: one compiles the blocked OBDM kernels
    first, the other only what the spec's samples need.  A third process loads the first one's
    cache, like a worker on a cache that another process filled.  energy, density, lambda0
    and occupations of the samples are equal byte for byte in all three.  (Before every
    kernel stated its fastmath flag, lambda0 at (1, 5) differed by 2 ulp, and the
    occupations at (1, 3) and (1, 5) too; density and energy agreed.)"""
    blocked_first = _child("blocked", tmp_path / "cache-blocked-first")
    samples_only = _child("samples", tmp_path / "cache-samples-only")
    a, b = _result(blocked_first), _result(samples_only)
    c = _result(_child("samples", tmp_path / "cache-blocked-first"))
    assert set(a) == set(b) == set(c)
    for sample in a:
        assert set(a[sample]) >= {"energy", "density", "lambda0", "occupations"}
        for var in a[sample]:
            assert a[sample][var] == b[sample][var], f"{var} of sample {sample} differs"
            assert a[sample][var] == c[sample][var], f"{var} of sample {sample} differs"


def _kernel_modules():
    """Every tgsweep module whose source uses numba (optional extras left out)."""
    names = []
    for info in pkgutil.walk_packages(tgsweep.__path__, "tgsweep."):
        path = Path(importlib.util.find_spec(info.name).origin)
        if path.suffix == ".py" and "njit" in path.read_text():
            names.append(info.name)
    return names


def test_every_kernel_states_its_float_flags():
    """Every numba kernel in tgsweep has ``fastmath`` and ``error_model`` among its own target
    options, so none is compiled with flags inherited from a caller (numba's
    ``CPUTargetOptions.finalize``).  A kernel decorated with numba's own ``njit`` instead of
    :func:`tgsweep.core.jit.njit` fails here."""
    from numba.core.dispatcher import Dispatcher

    found = {}
    for name in _kernel_modules():
        if name == "tgsweep.core.jit":
            continue
        mod = importlib.import_module(name)
        for attr, obj in vars(mod).items():
            if isinstance(obj, Dispatcher) and obj.py_func.__module__ == name:
                found[f"{name}.{attr}"] = obj.targetoptions
    assert len(found) >= 80, sorted(found)  # the kernels of tgsweep.core (93 when written)
    missing = sorted(k for k, opts in found.items()
                     if "fastmath" not in opts or "error_model" not in opts)
    assert not missing, f"kernels that would inherit a caller's fastmath: {missing}"


def _declared_fastmath(mod) -> dict[str, bool]:
    """``{kernel name: fastmath written in its decorator}`` (False where the decorator is
    silent), read from the module's source."""
    out = {}
    for node in ast.walk(ast.parse(Path(mod.__file__).read_text())):
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and getattr(dec.func, "id", "") == "njit":
                    kw = {k.arg: k.value for k in dec.keywords}
                    value = kw.get("fastmath")
                    out[node.name] = (value.id == "FMA" if isinstance(value, ast.Name)
                                      else bool(value.value) if value is not None else False)
    return out


def test_njit_keeps_an_explicit_choice():
    """:func:`tgsweep.core.jit.njit` fills in only what a decorator leaves out: each kernel's
    compiled fastmath flag is the one written at the kernel (``fastmath=FMA`` where asked,
    False where the decorator is silent), and its error_model is numba's default "python"."""
    from numba.core.dispatcher import Dispatcher

    n_fast = 0
    for name in _kernel_modules():
        mod = importlib.import_module(name)
        declared = _declared_fastmath(mod)
        for attr, obj in vars(mod).items():
            if isinstance(obj, Dispatcher) and obj.py_func.__module__ == name:
                compiled = obj.targetoptions["fastmath"]
                expected = set(FMA) if declared[attr] else False
                assert compiled == expected, f"{name}.{attr}: {compiled!r}"
                assert obj.targetoptions["error_model"] == "python", f"{name}.{attr}"
                n_fast += declared[attr]
    assert n_fast >= 1  # the fastmath=True kernels of the OBDM sweeps


def test_every_cached_kernel_is_stamped_by_all_kernel_sources():
    """Every cached kernel of tgsweep.core uses the all-sources stamp of tgsweep.core.jit (its
    callees' machine code is inside it, so its own module's hash is not enough)."""
    from tgsweep.core import jit

    stamp = jit.kernel_sources_stamp()
    seen = 0
    for info in pkgutil.iter_modules([str(ROOT / "tgsweep" / "core")]):
        if not info.name.endswith("_kernels"):
            continue
        module = importlib.import_module(f"tgsweep.core.{info.name}")
        for obj in vars(module).values():
            cache = getattr(obj, "_cache", None)
            impl = getattr(cache, "_impl", None)
            if impl is None or getattr(obj, "__module__", None) != module.__name__:
                continue
            assert isinstance(impl.locator, (jit._UserDirLocator, jit._InTreeLocator)), obj
            assert impl.locator.get_source_stamp() == stamp, obj
            seen += 1
    assert seen > 50


HELPER = "from tgsweep.core.jit import njit\n\n@njit(cache=True)\ndef helper(x):\n    return x * {factor}\n"
CALLER = ("from tgsweep.core.jit import njit\nfrom _a_kernels import helper\n\n"
          "@njit(cache=True)\ndef caller(x):\n    return helper(x) + 1.0\n")
LOAD = r"""
import sys
from tgsweep.core import jit
jit._HERE = sys.argv[1]            # the locators accept this folder's files
sys.path.insert(0, sys.argv[1])
from _b_kernels import caller
print(caller(1.0), caller.stats.cache_misses.__len__())
"""


def test_an_edit_of_a_callee_module_invalidates_its_callers(tmp_path):
    """An edit of a helper's module alone recompiles the kernels of other modules that call it
    (numba's own stamp, a hash of the caller's module only, kept the old helper's machine code
    inside the cached caller: the second run would print 3.0)."""
    pkg = tmp_path / "kernels"
    pkg.mkdir()
    (pkg / "_a_kernels.py").write_text(HELPER.format(factor=2.0))
    (pkg / "_b_kernels.py").write_text(CALLER)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))

    def run():
        out = subprocess.run([sys.executable, "-c", LOAD, str(pkg)], env=env, check=True,
                             capture_output=True, text=True).stdout.split()
        return float(out[0]), int(out[1])

    assert run() == (3.0, 1)          # compiled
    assert run() == (3.0, 0)          # loaded from the cache
    (pkg / "_a_kernels.py").write_text(HELPER.format(factor=5.0))
    assert run() == (6.0, 1)          # the caller is recompiled with the new helper


def test_reassociating_fast_math_is_refused():
    """Only FMA contraction is allowed (:data:`tgsweep.core.jit.FMA`): ``fastmath=True`` or a
    reassociating flag is refused where the kernel is declared."""
    with pytest.raises(ValueError, match="fastmath"):
        njit(cache=False, fastmath=True)(lambda x: x)
    with pytest.raises(ValueError, match="fastmath"):
        njit(fastmath={"contract", "reassoc"})(lambda x: x)
    assert njit(fastmath=FMA)(lambda x: x + 1.0)(1.0) == 2.0


#: one process: OBDMs of the blocked (N = 40; FMA kernels) and grouped (N = 5) sweeps, real and
#: complex orbitals, printed as hex digests of their bytes
COMPILE_OR_LOAD = r"""
import hashlib, json
import numpy as np
from tgsweep.core.obdm import obdm_lattice
out = {}
for m, n in ((64, 5), (96, 40), (128, 40)):
    rng = np.random.default_rng(m)
    for kind in ("real", "complex"):
        a = rng.standard_normal((m, n))
        if kind == "complex":
            a = a + 1j * rng.standard_normal((m, n))
        u = np.linalg.qr(a)[0]
        out[f"{m},{n},{kind}"] = hashlib.sha256(np.ascontiguousarray(obdm_lattice(u)).tobytes()).hexdigest()
print(json.dumps(out))
"""


@pytest.mark.slow
def test_compiled_and_cache_loaded_kernels_give_the_same_bits(tmp_path):
    """The process that compiles the OBDM kernels into a fresh cache and a process that loads
    them from it give byte-identical gamma (real and complex, grouped and blocked sweeps).  With
    numba's ``fastmath=True`` (reassociation allowed) the complex blocked gamma at M = 128,
    N = 40 differed between the two; compared byte for byte, no tolerance."""
    env = pinned_environ(dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
                              PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])))

    def run():
        return json.loads(subprocess.run([sys.executable, "-c", COMPILE_OR_LOAD], env=env,
                                         check=True, capture_output=True, text=True).stdout)

    compiled = run()
    loaded = run()
    assert compiled == loaded
