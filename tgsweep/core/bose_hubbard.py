"""Bose-Hubbard ground states on a disordered lattice ring by DMRG (TeNPy).

    H = -t sum_i (b+_i b_{i+1} + h.c.) + (U/2) sum_i n_i (n_i - 1) + sum_i eps_i n_i,

eps_i = ``ring.potential``, t = ``ring.hopping``, local occupation cut at n_max.  On the ring
(``bc="ring"``, the default) the bond (M-1, 0) carries the boson twist theta in the boundary gauge
of :mod:`tgsweep.models.ring`: the term -t (e^{i theta} b+_{M-1} b_0 + h.c.), as one long-range
coupling of a *finite* MPS (TeNPy's MPO graph adds it with bond dimension +2).  ``bc="chain"``
drops that bond (open chain; no twist).  n_max = 1 is exactly hard-core bosons (the XY chain of
the TG core).

TeNPy (``physics-tenpy``, the optional ``dmrg`` extra; heavy to import) is imported only when a
Bose-Hubbard state is requested (:func:`_tenpy`, :func:`model_class`), so tgsweep imports and
works without it.

Convergence record (per state, ``state.convergence``)
-----------------------------------------------------
``chi`` (largest bond dimension reached), ``chi_max``, ``n_max``, ``sweeps``,
``truncation_error`` (largest discarded weight in the last sweep), ``delta_e`` (energy change
of the last sweep), ``energy_variance`` <H^2> - <H>^2 (from the MPO; sqrt of it bounds the
distance of E to *some* eigenvalue, Kato), ``energy_error`` = max(|delta_e|, variance, truncation_error
t M, 64 eps |E| M) -- an estimate, not a bound (tests check it exceeds the true error against
exact references), ``occupation_max`` (largest <P(n_i = n_max)>: the
weight at the cutoff; n_max must be raised when it is not small).

Threads: TeNPy's cost is dense BLAS on blocks of size ~chi d; for chi <= 300 (what samples
here use) a second BLAS thread gains < 1.5x, while a second Dask worker gains 2x, so a DMRG
worker runs with one BLAS thread like every other tgsweep worker (the worker plugin of
:mod:`tgsweep.sweep.cluster` pins it).  Standalone calls take ``blas_threads`` (default:
leave the process setting alone).
"""

from __future__ import annotations

import functools
import importlib
import types

import numpy as np
from threadpoolctl import threadpool_limits

from ..models.ring import Ring
from .interacting_state import InteractingState

__all__ = ["model_class", "dmrg_ground_state", "DMRG_DEFAULTS"]

#: default DMRG settings (TeNPy option names)
DMRG_DEFAULTS = {
    "chi_max": 128,
    "svd_min": 1e-12,
    "max_E_err": 1e-11,
    "max_S_err": 1e-5,
    "min_sweeps": 3,
    "max_sweeps": 24,
}


@functools.cache
def _tenpy() -> types.SimpleNamespace:
    """The TeNPy pieces used here, imported on first use (optional dependency)."""
    try:
        return types.SimpleNamespace(
            dmrg=importlib.import_module("tenpy.algorithms.dmrg"),
            CouplingMPOModel=importlib.import_module("tenpy.models.model").CouplingMPOModel,
            MPS=importlib.import_module("tenpy.networks.mps").MPS,
            BosonSite=importlib.import_module("tenpy.networks.site").BosonSite)
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("model='bose_hubbard' needs TeNPy: pip install 'tgsweep[dmrg]' "
                          f"(physics-tenpy): {exc}") from exc


@functools.cache
def model_class():
    """The TeNPy model class of the disordered Bose-Hubbard ring / chain (built on first use)."""
    tp = _tenpy()
    CouplingMPOModel, BosonSite = tp.CouplingMPOModel, tp.BosonSite

    class BoseHubbardRing(CouplingMPOModel):
        """TeNPy model of the disordered Bose-Hubbard ring / chain (see module doc).

        model_params: L, eps (array), t, U, n_max, theta, bc ("ring" | "chain").
        """

        default_lattice = "Chain"
        force_default_lattice = True

        def init_sites(self, model_params):
            n_max = model_params.get("n_max", 1)
            return BosonSite(Nmax=n_max, conserve="N")

        def init_terms(self, model_params):
            eps = np.asarray(model_params.get("eps", None), dtype=float)
            t = float(model_params.get("t", 1.0))
            u = float(model_params.get("U", 0.0))
            theta = float(model_params.get("theta", 0.0))
            bc = model_params.get("bc", "ring")
            m = eps.size
            for i in range(m):
                self.add_onsite_term(eps[i] - 0.5 * u, i, "N")
                if u != 0.0:
                    self.add_onsite_term(0.5 * u, i, "NN")
            for i in range(m - 1):
                self.add_coupling_term(-t, i, i + 1, "Bd", "B", plus_hc=True)
            if bc == "ring":
                # -t e^{i theta} b+_{M-1} b_0 + h.c. = -t e^{-i theta} b+_0 b_{M-1} + h.c.
                c = -t * np.exp(-1j * theta)
                if abs(np.sin(theta)) < 1e-15:
                    c = c.real
                self.add_coupling_term(c, 0, m - 1, "Bd", "B", plus_hc=True)

    return BoseHubbardRing


def _initial_occupations(m: int, n: int) -> list[int]:
    """Spread N bosons as evenly as possible (Bresenham): ceil(N/M) <= n_max per site."""
    return [((i + 1) * n) // m - (i * n) // m for i in range(m)]


def dmrg_ground_state(ring: Ring, n_particles: int, *, U: float, n_max: int | None = None,
                      twist: float = 0.0, bc: str = "ring", chi_max: int | None = None,
                      svd_min: float | None = None, max_E_err: float | None = None,
                      max_sweeps: int | None = None, min_sweeps: int | None = None,
                      max_S_err: float | None = None, mixer: bool = True,
                      variance: bool = True, blas_threads: int | None = None,
                      initial=None) -> InteractingState:
    """DMRG ground state of the Bose-Hubbard model on a lattice ring (see module doc).

    Parameters
    ----------
    ring : lattice Ring (eps_i = potential, t = hopping).
    n_particles : N (0 < N <= M n_max).
    U : on-site interaction (>= 0).
    n_max : local cutoff (default min(N, 4); 1 = hard-core bosons).
    twist : boson twist theta (``bc="ring"`` only).
    bc : "ring" (periodic, twisted) or "chain" (open).
    chi_max, svd_min, max_E_err, max_sweeps, min_sweeps, max_S_err : DMRG settings
        (defaults :data:`DMRG_DEFAULTS`).
    mixer : subspace expansion (needed with charge conservation from a product state).
    variance : compute <H^2> - <H>^2 (one MPO-MPO contraction; cost ~ one sweep).
    blas_threads : limit BLAS threads during the run (None: leave as is).
    initial : an earlier result's ``extras["mps"]`` to start from (twist continuation).

    Returns an InteractingState with gamma = <b+_i b_j>, density <n_i>, extras["nn"] =
    <n_i n_j>, extras["mps"] (the TeNPy MPS) and the convergence record.
    """
    if ring.kind != "lattice":
        raise ValueError("ring: model='bose_hubbard' needs a lattice ring (Ring.lattice)")
    if bc not in ("ring", "chain"):
        raise ValueError(f"bc: must be 'ring' or 'chain', got {bc!r}")
    if bc == "chain" and twist != 0.0:
        raise ValueError("twist: an open chain (bc='chain') has no twist")
    m = ring.n_grid
    n = int(n_particles)
    if not (np.isfinite(U) and U >= 0):
        raise ValueError(f"U: must be a finite number >= 0, got {U!r}")
    if n_max is None:
        n_max = min(max(n, 1), 4)
    n_max = int(n_max)
    if n_max < 1:
        raise ValueError(f"n_max: must be an integer >= 1, got {n_max!r}")
    if not (0 < n <= m * n_max):
        raise ValueError(f"n_particles: must be in [1, M n_max] = [1, {m * n_max}], got {n}")
    opts = dict(DMRG_DEFAULTS)
    for k, v in (("chi_max", chi_max), ("svd_min", svd_min), ("max_E_err", max_E_err),
                 ("max_sweeps", max_sweeps), ("min_sweeps", min_sweeps),
                 ("max_S_err", max_S_err)):
        if v is not None:
            opts[k] = v
    params = {"L": m, "eps": np.asarray(ring.potential), "t": ring.hopping, "U": float(U),
              "n_max": n_max, "theta": float(twist), "bc": bc, "bc_MPS": "finite"}
    limit = threadpool_limits(blas_threads, "blas") if blas_threads else None
    try:
        tp = _tenpy()
        model = model_class()(params)
        if initial is not None:
            psi = initial.copy()
        else:
            occ = _initial_occupations(m, n)
            dtype = np.float64 if abs(np.sin(twist)) < 1e-15 else np.complex128
            psi = tp.MPS.from_product_state(model.lat.mps_sites(), [str(o) for o in occ],
                                         bc="finite", dtype=dtype,
                                         unit_cell_width=model.lat.mps_unit_cell_width)
        dopts = {
            "mixer": mixer,
            "max_E_err": opts["max_E_err"],
            "max_S_err": opts["max_S_err"],
            "min_sweeps": opts["min_sweeps"],
            "max_sweeps": opts["max_sweeps"],
            "trunc_params": {"chi_max": int(opts["chi_max"]), "svd_min": opts["svd_min"]},
            "combine": True,
        }
        if mixer:
            dopts["mixer_params"] = {"amplitude": 1e-5, "decay": 2.0, "disable_after": 4}
        eng = tp.dmrg.TwoSiteDMRGEngine(psi, model, dopts)
        energy, psi = eng.run()
        stats = eng.sweep_stats
        gamma = np.asarray(psi.correlation_function("Bd", "B"))
        dens = np.real(np.asarray(psi.expectation_value("N")))
        nn = np.real(np.asarray(psi.correlation_function("N", "N")))
        p_top = np.real(np.asarray(psi.expectation_value(_projector_name(psi, n_max))))
        var = float(np.real(model.H_MPO.variance(psi))) if variance else np.nan
        chi = int(max(psi.chi)) if len(psi.chi) else 1
    finally:
        if limit is not None:
            limit.unregister()
    if np.max(np.abs(np.imag(gamma))) < 1e-14 * max(1.0, np.max(np.abs(gamma))):
        gamma = np.real(gamma).copy()
    gamma = 0.5 * (gamma + np.conj(gamma.T))  # Hermitian to roundoff
    trunc = float(stats["max_trunc_err"][-1]) if stats["max_trunc_err"] else 0.0
    d_e = float(stats["Delta_E"][-1]) if stats["Delta_E"] else np.nan
    conv = {
        "converged": bool(abs(d_e) <= 10 * opts["max_E_err"] * max(1.0, abs(energy))),
        "chi": chi, "chi_max": int(opts["chi_max"]), "n_max": n_max,
        "sweeps": int(stats["sweep"][-1]) if stats["sweep"] else 0,
        "truncation_error": trunc, "delta_e": d_e, "energy_variance": var,
        "occupation_max": float(np.max(p_top)) if n_max < n else 0.0,
        "energy_error": float(max(abs(d_e), 0.0 if np.isnan(var) else var, trunc * ring.hopping
                                  * m, 64 * np.finfo(float).eps * abs(energy) * m)),
        "bc": bc,
    }
    return InteractingState(ring, "bose_hubbard", n, float(twist), float(np.real(energy)),
                            gamma, dens, None, {"U": float(U), "n_max": n_max,
                                                "t": ring.hopping, "bc": bc}, conv,
                            {"nn": nn, "mps": psi})


def _projector_name(psi, n_max):
    """Name of the local projector onto n_i = n_max (added once per site)."""
    name = f"P{n_max}"
    for site in psi.sites:
        if not site.valid_opname(name):
            p = np.zeros((n_max + 1, n_max + 1))
            p[n_max, n_max] = 1.0
            site.add_op(name, p)
    return name
