"""Size estimates and grid checks made while a spec is loaded, before anything is computed or
written.

* Memory per sample: the N occupied orbitals and work copies (``ORBITAL_COPIES`` x M x N
  float64; N = n_particles, or M when set by mu), ``OBDM_COPIES`` M x M matrices when an
  OBDM-based observable is asked for (condensate, hs_profile, momentum_distribution), per-time
  arrays of ``dynamics``, plus the stored values; refused above ``max_sample_gb``
  (``--max-sample-gb``).
* Store size: grid points x samples x stored bytes per sample (uncompressed: an upper bound of
  the disk use); refused above ``max_store_gb`` (``--max-store-gb``).
* Tasks: the client keeps one entry per (grid point, sample chunk); refused above ``MAX_TASKS``
  (raise ``samples_per_task``).
* Grid: dimension names must not be reserved store names (``sample``, ``chunk``, ``status``,
  ``error``, ``done``, the observables' dims and variables); values of one axis must be distinct
  as numbers (``[1, 1.0]`` is one value twice).
* Observables: ``condensate.n_modes`` at most M (there are M natural orbitals).
* Warnings (:class:`SpecWarning`, the run goes on): ``n_particles = 0``, or ``mu`` below the
  lowest single-particle energy of sample 0 at a grid point (Gershgorin bound min V - 2t on the
  lattice, min V in the continuum: no particle at all).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from . import registry
from .tasks import draw_potential, sample_rng

__all__ = ["Limits", "SpecWarning", "check_early", "check_late", "estimate", "RESERVED",
           "MAX_TASKS", "ORBITAL_COPIES", "OBDM_COPIES"]

RESERVED = ("sample", "chunk", "status", "error", "done", "summary", "mode", "x")
MAX_TASKS = 5_000_000
ORBITAL_COPIES = 3
OBDM_COPIES = 4
#: observables that need the M x M one-body density matrix
OBDM_OBSERVABLES = ("condensate", "hs_profile", "momentum_distribution")
#: observables whose values are trivial without particles (N = 0 warning)
PARTICLE_OBSERVABLES = ("energy", "density", "condensate", "hs_profile", "momentum_distribution")
_GB = 1e9


class SpecWarning(UserWarning):
    """A spec that runs but probably not as intended (e.g. every sample has N = 0)."""


@dataclass(frozen=True)
class Limits:
    """Refusal thresholds (GB = 1e9 bytes)."""

    max_store_gb: float = 200.0
    max_sample_gb: float = 8.0


def _n_grid(model: dict) -> int:
    if model.get("kind") == "continuum":
        return int(round(float(model["length"]) * float(model["points_per_unit"])))
    return int(model["sites"])


def _dynamics_times(raw_obs) -> int:
    dyn = raw_obs.get("dynamics") if isinstance(raw_obs, dict) else None
    if not isinstance(dyn, dict):
        return 0
    t = dyn.get("times", {"n_times": 20})
    if isinstance(t, dict):
        n = t.get("n_times", 20)
        return int(n) if isinstance(n, (int, float)) and not isinstance(n, bool) else 0
    return len(t) if isinstance(t, list) else 0


def _layouts(spec):
    """(variables, coordinates) of every observable of ``spec`` (its registry layouts)."""
    geom = spec.geometry()
    return [registry.get(name).layout(geom, opts) for name, opts in spec.observables.items()]


def _needs_obdm(obs) -> bool:
    return isinstance(obs, dict) and any(k in obs for k in OBDM_OBSERVABLES)


def _state_bytes(spec, m: int, obs) -> float:
    """Memory of one sample's state: orbitals (M x N) and, if needed, the OBDM (M x M)."""
    ns = [spec.state.get("n_particles")] + [v for ax in spec.axes.values()
                                            for k, vals in ax.items() if k == "state.n_particles"
                                            for v in vals]
    ns = [int(n) for n in ns if isinstance(n, (int, float)) and not isinstance(n, bool)]
    n = min(max(ns), m) if ns and "mu" not in spec.state and not any(
        "state.mu" in ax for ax in spec.axes.values()) else m
    b = 8.0 * ORBITAL_COPIES * m * max(n, 1)
    if _needs_obdm(obs):
        b += 8.0 * OBDM_COPIES * m * m
    return b


def _gb(x: float) -> str:
    return f"{x / _GB:.3g} GB"


def check_early(spec, limits: Limits | None = None) -> tuple[str, str] | None:
    """Checks that need only the grid and the model (run before any trial draw): the first
    problem as (field, message), or None.  (Raised as ``SpecError`` by the spec loader.)"""
    limits = limits or Limits()
    for d in spec.dims:
        if d in RESERVED:
            return (f"grid.zip.{d}", f"dimension name {d!r} is reserved by the store; allowed: any "
                            f"identifier except {', '.join(RESERVED)}")
    for d, axis in spec.axes.items():
        for key, values in axis.items():
            nums = [float(v) for v in values if isinstance(v, (int, float))
                    and not isinstance(v, bool)]
            if len(set(nums)) != len(nums):
                dup = next(v for v in nums if nums.count(v) > 1)
                return (f"grid.{key}" if d == key.replace(".", "_") else f"grid.zip.{d}.{key}",
                                f"values must be distinct; {dup!r} appears twice (1 and 1.0 are "
                                "the same value)")
    m = _n_grid(spec.model)
    obs = spec.raw.get("observables", {})
    n_t = _dynamics_times(obs)
    dense = _state_bytes(spec, m, obs)
    if dense > limits.max_sample_gb * _GB:
        return ("model.sites" if spec.model["kind"] == "lattice" else "model.length",
                f"M = {m} grid points needs ~{_gb(dense)} per sample (orbitals M x N"
                f"{' and OBDM M x M' if _needs_obdm(obs) else ''}), above the limit "
                f"--max-sample-gb {limits.max_sample_gb:g}")
    if dense + 8.0 * 4 * n_t * m > limits.max_sample_gb * _GB:
        return ("observables.dynamics.times.n_times",
                f"{n_t} times x M = {m} needs ~{_gb(dense + 32.0 * n_t * m)} per sample, above "
                f"the limit --max-sample-gb {limits.max_sample_gb:g}")
    tasks = spec.n_points * spec.n_chunks
    if tasks > MAX_TASKS:
        return ("grid", f"{spec.n_points} grid points x {spec.n_chunks} sample chunks = "
                        f"{tasks:.3g} tasks, above {MAX_TASKS:.0e}; use fewer grid values or a "
                        "larger sampling.samples_per_task")
    return None


def estimate(spec) -> dict:
    """Bytes: ``sample`` (memory of one sample), ``stored_per_sample``, ``store`` (all samples,
    uncompressed)."""
    per = 1 + 8  # status, error reference
    for variables, _ in _layouts(spec):
        for meta in variables.values():
            per += np.dtype(meta.dtype).itemsize * int(np.prod(meta.shape, dtype=np.int64))
    m = spec.geometry()["n_grid"]
    obs = spec.raw.get("observables", {})
    n_t = _dynamics_times(obs)
    return {"sample": _state_bytes(spec, m, obs) + 8.0 * 4 * n_t * m + 4.0 * per,
            "stored_per_sample": float(per),
            "store": float(per) * spec.n_points * spec.n_samples}


def check_late(spec, limits: Limits | None = None) -> tuple[str, str] | None:
    """Checks that need the observables' layout: the first problem as (field, message), or
    None; emits :class:`SpecWarning` for N = 0."""
    limits = limits or Limits()
    m = spec.geometry()["n_grid"]
    cond = spec.observables.get("condensate")
    if cond is not None and int(cond.get("n_modes", 0)) > m:
        return ("observables.condensate.n_modes", f"must be at most M = {m} (the number "
                        f"of natural orbitals), got {cond['n_modes']}")
    used = {"sample", "chunk", "status", "error", "done"}
    for variables, ocoords in _layouts(spec):
        used |= set(variables) | set(ocoords)
        used |= {d for meta in variables.values() for d in meta.dims}
        used |= {c.dim for c in ocoords.values() if c.dim}
    for d in spec.dims:
        if d in used:
            return (f"grid.zip.{d}", f"dimension name {d!r} is used by the store (an observable's "
                    "dimension or variable); choose another name")
    est = estimate(spec)
    if est["sample"] > limits.max_sample_gb * _GB:
        return ("observables", f"one sample needs ~{_gb(est['sample'])}, above the limit "
                        f"--max-sample-gb {limits.max_sample_gb:g}")
    if est["store"] > limits.max_store_gb * _GB:
        return ("sampling.n_samples", f"the store would hold ~{_gb(est['store'])} "
                        f"({spec.n_points} grid points x {spec.n_samples} samples x "
                        f"{est['stored_per_sample']:.0f} bytes), above the limit --max-store-gb "
                        f"{limits.max_store_gb:g}")
    _warn_empty(spec)
    return None


def _warn_empty(spec) -> None:
    geom = spec.geometry()
    for p in sorted({0, spec.n_points - 1}):
        st = spec.point_params(p)["state"]
        if not any(k in spec.observables for k in PARTICLE_OBSERVABLES):
            return  # e.g. Lyapunov exponents only: the ground state is not used
        if "n_particles" in st and int(st["n_particles"]) == 0:
            warnings.warn(SpecWarning("state.n_particles: 0 particles: every sample is empty"),
                          stacklevel=3)
            return
        if "mu" in st and geom["n_grid"] <= 1_000_000:
            params = spec.point_params(p)
            v = draw_potential(params["disorder"], geom, sample_rng(spec.seed, p, 0))
            model = params["model"]
            low = float(np.min(v)) - (2.0 * float(model.get("hopping", 1.0))
                                      if model["kind"] == "lattice" else 0.0)
            if float(st["mu"]) < low and math.isfinite(low):
                warnings.warn(SpecWarning(
                    f"state.mu: mu = {st['mu']} is below the whole single-particle spectrum of "
                    f"sample 0 at grid point {p} (>= {low:.4g}): it has N = 0 particles"),
                    stacklevel=3)
                return
