"""Per-task pure functions: (spec, grid point p, sample chunk c) -> arrays.

Sample ``s`` at grid point ``p`` draws its disorder from
``Generator(PCG64(SeedSequence(spec.seed, spawn_key=(p, s))))`` and nothing else, so results
never depend on worker, chunk or call order (the idea of kwant's ``kwant.digest``).

Per-sample status codes (the ``status`` variable): 0 pending, 1 ok, 2 raised an exception,
3 non-finite output, 4 failed a self-check (Tr gamma h = N, Hermiticity of gamma).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

import numpy as np

from ..models.potentials import make_potential
from ..models.ring import Ring
from ..observables.declaration import DeferredState, SampleContext
from . import registry
from .codes import STATUS
from .faults import fault_point
from .kernels import compiled_count, install_compile_lock
from .interaction import make_state

__all__ = ["STATUS", "ERROR_WIDTH", "sample_rng", "draw_potential", "make_ring", "run_sample",
           "compute_chunk", "compute_chunks", "ChunkResult", "warm_cache"]

ERROR_WIDTH = 200
#: self-check tolerances (relative)
TRACE_RTOL = 1e-8
HERM_RTOL = 1e-10


def sample_rng(seed: int, p: int, s: int) -> np.random.Generator:
    """The random generator of sample ``s`` at flat grid point ``p`` (explicit PCG64)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed),
                                                                      spawn_key=(int(p), int(s)))))


def draw_potential(disorder: dict, geom: dict, rng: np.random.Generator) -> np.ndarray:
    """Potential on the grid for the disorder parameters ``disorder`` (incl. ``kind``)."""
    params = {k: v for k, v in disorder.items() if k != "kind"}
    kind = disorder.get("kind", "none")
    if kind == "none":
        if params:
            raise ValueError(f"disorder kind 'none' takes no parameters, got {sorted(params)}")
        return np.zeros(geom["n_grid"])
    return np.asarray(make_potential(kind, rng, geom["n_grid"],
                                     points_per_unit=geom["points_per_unit"], **params),
                      dtype=np.float64)


def make_ring(model: dict, potential: np.ndarray):
    if model["kind"] == "continuum":
        return Ring.continuum(model["length"], model["points_per_unit"], potential)
    return Ring.lattice(potential, model.get("hopping", 1.0))


@dataclass
class ChunkResult:
    """Arrays of one task: ``data[var]`` has shape (n, *var.shape); status (n,) int8;
    errors (n,) str; ``compiled``: numba kernels the computing process compiled for it (0 once
    the on-disk cache is warm: the sweep checks that workers do not compile)."""

    p: int
    c: int
    s0: int
    data: dict
    status: np.ndarray
    errors: np.ndarray
    compiled: int = 0


def _self_check(ctx) -> str:
    if not ctx.has_obdm:
        return ""
    g = ctx.obdm()
    n = ctx.state.n_particles
    tr = float(np.real(np.trace(g))) * ctx.ring.weight
    if not abs(tr - n) <= TRACE_RTOL * max(n, 1):
        return f"self-check: Tr(gamma) h = {tr!r} != N = {n}"
    scale = float(np.max(np.abs(g))) if g.size else 0.0
    herm = float(np.max(np.abs(g - g.conj().T))) if g.size else 0.0
    if not herm <= HERM_RTOL * max(scale, 1e-300):
        return f"self-check: gamma not Hermitian (max |gamma - gamma^H| = {herm:.3g})"
    return ""


def run_sample(spec, p: int, s: int, layouts: dict) -> tuple[dict, int, str]:
    """Compute every observable for sample ``s`` at point ``p``.

    Returns (values by variable, status code, error text).  Never raises for a failing sample.
    """
    params = spec.point_params(p)
    geom = spec.geometry()
    try:
        rng = sample_rng(spec.seed, p, s)
        pot = draw_potential(params["disorder"], geom, rng)
        ring = make_ring(params["model"], pot)
        localized = all(registry.get(name).localized for name in spec.observables)
        # made on first use: observables that need only the ring and mu skip the eigensolve
        state = DeferredState(lambda: make_state(ring, params, localized=localized))
        ctx = SampleContext(ring, state, params, p, s)
        values = {}
        for name, opts in spec.observables.items():
            out = registry.get(name).compute(ctx, opts)
            variables = layouts[name]
            for var, meta in variables.items():
                arr = np.asarray(out[var])
                if arr.shape != meta.shape:
                    raise ValueError(f"observable {name}: {var} has shape {arr.shape}, "
                                     f"declared {meta.shape}")
                values[var] = arr
    except Exception as exc:  # noqa: BLE001 - recorded per sample, the run goes on
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" [{tb[-1].name}:{tb[-1].lineno}]" if tb else ""
        return {}, STATUS["error"], f"{type(exc).__name__}: {exc}{where}"
    bad = [v for v, a in values.items() if np.issubdtype(a.dtype, np.inexact)
           and not np.all(np.isfinite(a))]
    if bad:
        return values, STATUS["nonfinite"], f"non-finite values in {', '.join(bad)}"
    if spec.self_check:
        msg = _self_check(ctx)
        if msg:
            return values, STATUS["selfcheck"], msg
    return values, STATUS["ok"], ""


def layouts_of(spec) -> dict:
    """``{observable: {variable: Variable}}`` of ``spec`` (shared, read-only).  Kept for the
    last few specs, keyed by their JSON: every task needs it, and building it (~0.4 ms for
    every observable of a ring) was a per-task cost of a worker (which unpickles a fresh
    ``Spec`` with every task)."""
    key = spec.to_json()
    out = _LAYOUTS.get(key)
    if out is None:
        geom = spec.geometry()
        out = {name: registry.get(name).layout(geom, opts)[0]
               for name, opts in spec.observables.items()}
        if len(_LAYOUTS) >= 8:
            _LAYOUTS.pop(next(iter(_LAYOUTS)))
        _LAYOUTS[key] = out
    return out


_LAYOUTS: dict = {}  # spec JSON -> layouts (layouts_of)


def compute_chunk(spec, p: int, c: int) -> ChunkResult:
    """All samples of chunk ``c`` (samples c*spt .. ) at grid point ``p``."""
    install_compile_lock()  # a kernel missing from the cache is compiled once per machine
    n_compiled = compiled_count()
    layouts = layouts_of(spec)
    s0, s1 = spec.chunk_samples(c)
    n = s1 - s0
    data = {}
    for variables in layouts.values():
        for var, meta in variables.items():
            data[var] = np.full((n, *meta.shape), meta.fill, dtype=meta.dtype)
    status = np.zeros(n, dtype=np.int8)
    errors = np.full(n, "", dtype=f"<U{ERROR_WIDTH}")
    for i, s in enumerate(range(s0, s1)):
        values, code, err = run_sample(spec, p, s, layouts)
        for var, arr in values.items():
            data[var][i] = arr
        status[i] = code
        errors[i] = err[:ERROR_WIDTH]
    fault_point("task_computed")  # where a worker is killed in the fault tests (computed, unsent)
    return ChunkResult(p, c, s0, data, status, errors, compiled_count() - n_compiled)


def compute_chunks(spec, tasks) -> list[ChunkResult]:
    """:func:`compute_chunk` of each ``(p, c)`` in ``tasks``, in order: several tasks in one
    dispatch to a worker process (one round trip, one pickled spec for all of them).  Each
    result is what :func:`compute_chunk` returns for its task alone (a task's result depends on
    (spec, p, c) only)."""
    return [compute_chunk(spec, p, c) for p, c in tasks]


def warm_cache(specs, stream=None) -> int:
    """Compile (or load) the numba kernels that ``specs`` need, by computing one sample of the
    first grid point of each, serially in this process; returns the number of kernels compiled.
    For an install step, so that the first sweep starts with a warm on-disk cache."""
    install_compile_lock()
    n0 = compiled_count()
    for spec in specs:
        run_sample(spec, 0, 0, layouts_of(spec))
    n = compiled_count() - n0
    if stream is not None:
        stream.write(f"numba kernels: {n} compiled into the on-disk cache\n")
    return n
