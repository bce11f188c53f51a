"""Observables of interacting bosons: twist stiffness, Leggett's bound, structure factor, K.

Definitions (units hbar^2/2m = 1; L the ring length, lattice: sites)
---------------------------------------------------------------------
* rho_s(theta) = L (E_0(theta) - E_0(0)) / theta^2 with E_0(theta) the N-boson ground energy at
  boson twist theta (the TG definition of :mod:`tgsweep.observables.superfluid`).  Superfluid
  fraction f_s = rho_s / (N / L): 1 on a clean continuum ring.
* ``ideal``: E_0(theta) = N e_0(theta), e_0 the lowest one-particle level, so rho_s = N times
  the one-particle (N_mu = 1) TG stiffness, taken from :func:`tgsweep.observables.superfluid.stiffness`
  with a chemical potential in the gap between bands 0 and 1: the contour integral resolves it
  far below roundoff (rho_s ~ e^{-gamma(e_0) L} on a localized ring although lambda_0 = N).
* ``hard_core``: the TG stiffness itself (contour path) at a chemical potential in the gap
  between bands N-1 and N (so N_mu = N).
* ``mean_field``: E_0 from :func:`tgsweep.core.interacting.gross_pitaevskii` at each twist
  (continued from the theta = 0 solution); error floor L (dE(theta) + dE(0)) / theta^2 with dE
  the solver's energy error (~64 eps |E|): rho_s is resolved down to ~1e-13 |E| L / theta^2.
  Leggett's bound (Leggett, Phys. Rev. Lett. 25, 1543 (1970); J. Stat. Phys. 93, 927 (1998))
  f_s <= 1 / (<n> <1/n>) is saturated by the 1D GP ground state as theta -> 0: for a real
  positive phi_0 the first-order twist response is a pure phase, the current is uniform and
  rho_s0 = L / sum_bonds 1 / (t w sqrt(n_i n_{i+1}))  (w = h continuum, 1 lattice; ->
  L / int dx / n(x) as h -> 0) -- :func:`leggett_stiffness`, exact on the grid.
* ``bose_hubbard``: E_0 from DMRG at each twist (periodic ring); the error is the DMRG energy
  error estimate of both runs (see :mod:`tgsweep.core.bose_hubbard`), typically 1e-10..1e-8, so
  rho_s below ~1e-6 is not resolved (``reliable`` False).
* Density structure factor S(q) = (1/L) sum_{ij} e^{iq(i-j)} (<n_i n_j> - <n_i><n_j>);
  Luttinger parameter (Giamarchi convention: K = 1 hard core, K -> infinity ideal, OBDM ~
  r^{-1/(2K)}) from its slope, S(q) -> K |q| / (2 pi) as q -> 0, estimated at the smallest
  momentum q_1 = 2 pi / L: K_L = L S(q_1) (periodic ring; exactly 1 for free fermions at any L).
  On an open chain the same formula at q_1 = 2 pi / L carries an O(1/L) boundary bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.interacting import InteractingState, interacting_ground_state
from ..core.spectrum import eigenvalues
from ..models.ring import Ring
from .declaration import Coord, Observable, Option, Variable, one_of, real_list
from .superfluid import stiffness

__all__ = ["InteractingStiffness", "interacting_stiffness", "leggett_stiffness", "mu_for_particles",
           "leggett_fraction", "structure_factor", "luttinger_parameter", "OBSERVABLES"]

_EPS = np.finfo(float).eps
_LN10 = np.log(10.0)
#: largest relative error of a stiffness flagged ``reliable``
REL_ERROR_MAX = 1e-2


@dataclass(frozen=True, eq=False)
class InteractingStiffness:
    """Twist stiffness of an interacting ground state.

    Attributes
    ----------
    model : the interaction model.
    n_particles : N.
    energy0 : E_0(0).
    thetas : (n,) boson twists.
    rho_s, log10_rho_s : (n,) L (E_0(theta) - E_0(0)) / theta^2 and its log10 (finite below
        the double range for ``ideal``); theta = 0 entries hold the curvature rho_s0.
    error : (n,) absolute error estimate of rho_s (ideal: from the TG stiffness' relative error).
    reliable : (n,) error < REL_ERROR_MAX |rho_s| (and the solver converged).
    leggett : L / sum_bonds 1/(t w sqrt(n_i n_{i+1})) of the theta = 0 state (mean field; nan
        otherwise): the theta -> 0 limit the GP stiffness must equal.
    states : (state at theta = 0, states at each theta) for mean field / Bose-Hubbard (the
        theta = 0 state feeds the other observables without another solve); () for ideal.
    """

    model: str
    n_particles: int
    energy0: float
    thetas: np.ndarray
    rho_s: np.ndarray
    log10_rho_s: np.ndarray
    error: np.ndarray
    reliable: np.ndarray
    leggett: float
    states: tuple = ()


def leggett_stiffness(ring: Ring, density: np.ndarray) -> float:
    """L / sum_bonds 1 / (t w sqrt(n_i n_{i+1})): the theta -> 0 stiffness of a condensate with
    density n (exact for the GP ground state on the grid; Leggett's bound for any state)."""
    n = np.asarray(density, dtype=float)
    bond = np.sqrt(n * np.roll(n, -1))
    with np.errstate(divide="ignore"):
        s = np.sum(1.0 / (ring.hopping * ring.weight * bond))
    return float(ring.length / s) if np.isfinite(s) else 0.0


def leggett_fraction(ring: Ring, density: np.ndarray) -> float:
    """Leggett's continuum bound 1 / (<n> <1/n>) (averages over the ring)."""
    n = np.asarray(density, dtype=float)
    with np.errstate(divide="ignore"):
        return float(1.0 / (np.mean(n) * np.mean(1.0 / n)))


def mu_for_particles(ring: Ring, n: int) -> float:
    """A chemical potential with N_mu = min(N+, N-) = n (1 <= n < M): the middle of the gap
    between bands n-1 and n of the twisted ring (their touching point on a clean ring)."""
    e = [eigenvalues(ring, ph, n - 1, n + 1) for ph in (0.0, np.pi)]
    top = max(e[0][0], e[1][0])
    bottom = min(e[0][1], e[1][1])
    return 0.5 * (top + bottom) if bottom > top else top


def _from_tg(ring, n, thetas, model, scale):
    s = stiffness(ring, mu_for_particles(ring, n), thetas)
    if s.n_mu != n:
        raise RuntimeError(f"{model} stiffness: the chemical potential gave N_mu = {s.n_mu}, "
                           f"not {n}")
    rho = scale * s.rho_s
    log10 = np.log10(scale) + s.log10_rho_s if scale > 0 else np.full(thetas.size, -np.inf)
    rel = 10.0 ** np.asarray(s.log10_error, dtype=float)
    err = np.abs(rho) * rel
    rel_ok = np.asarray(s.reliable) & (rel < REL_ERROR_MAX)
    return InteractingStiffness(model, n, scale * s.energy0, thetas, rho, log10, err, rel_ok,
                                np.nan)


def _ideal(ring, n, thetas):
    # E_0(theta) = N e_0(theta): N times the one-particle (N_mu = 1) TG stiffness
    return _from_tg(ring, 1, thetas, "ideal", float(n))


def _by_energy(ring, n, thetas, model, params, solver_options, state0=None):
    st0 = state0 if state0 is not None else interacting_ground_state(
        ring, n, model=model, twist=0.0, **params, **solver_options)
    e0, de0 = st0.energy, float(st0.convergence.get("energy_error", np.inf))
    ok0 = st0.converged
    rho = np.zeros(thetas.size)
    err = np.zeros(thetas.size)
    ok = np.zeros(thetas.size, dtype=bool)
    states = [None] * thetas.size
    for i in np.argsort(np.abs(thetas)):
        th = float(thetas[i])
        if np.sin(0.5 * th) == 0.0:
            rho[i], err[i], ok[i] = np.nan, np.inf, False
            continue
        opts = dict(solver_options)
        if model == "mean_field" and st0.condensate_wavefunction is not None:
            opts.setdefault("initial", st0.condensate_wavefunction)  # + uniform-current phase
        st = interacting_ground_state(ring, n, model=model, twist=th, **params, **opts)
        de = float(st.convergence.get("energy_error", np.inf))
        rho[i] = ring.length * (st.energy - e0) / th**2
        err[i] = ring.length * (de + de0) / th**2
        ok[i] = ok0 and st.converged and err[i] < REL_ERROR_MAX * abs(rho[i])
        states[i] = st
    with np.errstate(divide="ignore", invalid="ignore"):
        log10 = np.where(rho > 0, np.log10(np.where(rho > 0, rho, 1.0)), np.nan)
    leg = leggett_stiffness(ring, st0.density_profile) if model == "mean_field" else np.nan
    return InteractingStiffness(model, n, e0, thetas, rho, log10, err, ok, leg,
                                (st0, tuple(states)))


def interacting_stiffness(ring: Ring, n_particles: int, thetas, *, model: str = "ideal",
                          g: float | None = None, U: float | None = None,
                          n_max: int | None = None, state0: InteractingState | None = None,
                          **solver_options) -> InteractingStiffness:
    """rho_s(theta) = L (E_0(theta) - E_0(0)) / theta^2 of N bosons in ``model``
    ("ideal", "mean_field", "bose_hubbard", "hard_core").

    ``hard_core``: the TG stiffness (:func:`stiffness`, contour path) at a chemical potential
    with N_mu = N.  theta = 0 gives the curvature for ``ideal``/``hard_core``; for the others it
    is not resolved (nan, ``reliable`` False).  ``state0``: the theta = 0 ground state if
    already computed (mean field, Bose-Hubbard), so it is not solved twice.
    """
    thetas = np.atleast_1d(np.asarray(thetas, dtype=float))
    if thetas.ndim != 1 or not np.all(np.isfinite(thetas)):
        raise ValueError("thetas: must be a finite scalar or 1-d sequence")
    n = int(n_particles)
    if model == "ideal":
        return _ideal(ring, n, thetas)
    if model == "hard_core":
        return _from_tg(ring, n, thetas, "hard_core", 1.0)
    if model == "mean_field":
        return _by_energy(ring, n, thetas, model, {"g": g}, solver_options, state0)
    if model == "bose_hubbard":
        return _by_energy(ring, n, thetas, model, {"U": U, "n_max": n_max}, solver_options,
                          state0)
    raise ValueError("model: must be 'ideal', 'mean_field', 'bose_hubbard' or 'hard_core', "
                     f"got {model!r}")


def structure_factor(state: InteractingState):
    """S(q) = (1/L) sum_ij e^{iq(i-j)} (<n_i n_j> - <n_i><n_j>) on q = 2 pi j / L, j = 0..L-1.

    Needs the density-density correlations ``state.extras["nn"]`` (Bose-Hubbard states).
    Returns (q, S) (dimensionless; lattice units)."""
    nn = state.extras.get("nn") if isinstance(state, InteractingState) else None
    if nn is None:
        raise ValueError("structure_factor: the state carries no density-density correlations "
                         "(only model='bose_hubbard' states do)")
    nn = np.asarray(nn, dtype=float)
    n = np.asarray(state.density_profile, dtype=float)
    c = nn - np.outer(n, n)
    m = c.shape[0]
    q = 2 * np.pi * np.arange(m) / m
    ph = np.exp(1j * np.outer(q, np.arange(m)))
    s = np.real(np.einsum("qi,ij,qj->q", ph, c, np.conj(ph))) / m
    return q, s


def luttinger_parameter(state: InteractingState) -> float:
    """K_L = L S(2 pi / L) (structure-factor slope at the smallest momentum; see module doc)."""
    q, s = structure_factor(state)
    return float(s[1] * q.size)


# ------------------------------------------------------------------------------ declarations
# The stored variables depend on the interaction model; the sweep passes it as the option
# ``model`` (tgsweep.sweep.interaction fills it in from [model] interaction).
_MODEL_OPT = Option("model", "hard_core", one_of("model", "hard_core", "ideal", "mean_field",
                                                 "bose_hubbard"),
                    "interaction model (set by the sweep from model.interaction)")


def _ts_layout(geom, opts):
    th = np.asarray(opts["thetas"], dtype=float)
    d, s = ("twist_theta",), (th.size,)
    out = {"twist_rho_s": Variable(d, s, "1/length", "twist stiffness rho_s(theta) = "
                                   "L (E_0(theta) - E_0(0)) / theta^2"),
           "twist_rho_s_error": Variable(d, s, "1/length",
                                         "estimated absolute error of the twist stiffness"),
           "twist_reliable": Variable(d, s, "1", "1 if the error is < 1% of rho_s", "int64")}
    if opts["model"] in ("ideal", "hard_core"):  # resolved far below the double range
        out["twist_log10_rho_s"] = Variable(d, s, "log10(1/length)",
                                            "log10 of the twist stiffness rho_s(theta)")
    if opts["model"] == "mean_field":
        out["leggett_rho_s"] = Variable((), (), "1/length",
                                        "L / sum_bonds 1/(t w sqrt(n_i n_i+1)): the theta -> 0 "
                                        "GP stiffness (Leggett's bound)")
    return out, {"twist_theta": Coord(th, "rad", "boson twist theta")}


def _ts_compute(ctx, opts):
    st = ctx.state
    model = opts["model"]
    params = {}
    if model == "mean_field":
        params = {"g": st.params["g"]}
    elif model == "bose_hubbard":
        params = {"U": st.params["U"], "n_max": st.params["n_max"],
                  "chi_max": st.convergence["chi_max"]}
    state0 = st if model in ("mean_field", "bose_hubbard") else None
    r = interacting_stiffness(ctx.ring, int(st.n_particles), np.asarray(opts["thetas"], float),
                              model=model, state0=state0, **params)
    out = {"twist_rho_s": r.rho_s, "twist_rho_s_error": r.error,
           "twist_reliable": r.reliable.astype(np.int64)}
    if model in ("ideal", "hard_core"):
        out["twist_log10_rho_s"] = r.log10_rho_s
    if model == "mean_field":
        out["leggett_rho_s"] = np.float64(r.leggett)
    return out


def _lutt_layout(geom, opts):
    m = geom["n_grid"]
    return ({"luttinger_K": Variable((), (), "1", "Luttinger parameter K_L = "
                                         "L S(2 pi / L) (structure-factor slope)"),
             "structure_factor": Variable(("q",), (m,), "1", "density structure factor S(q)")},
            {"q": Coord(2 * np.pi * np.arange(m) / m, "1/length", "momentum q = 2 pi j / L")})


def _lutt_compute(ctx, opts):
    _, s = structure_factor(ctx.state)
    return {"luttinger_K": np.float64(luttinger_parameter(ctx.state)), "structure_factor": s}


_SOLVER_VARS = {
    "solver_converged": ("1", "1 if the ground-state solver met its tolerance", "int64"),
    "solver_energy_error": ("energy", "estimated |E - E_exact| of the solver", "float64"),
    "solver_residual": ("energy", "eigen-equation residual: GP ||H phi + g|phi|^2 phi - mu phi||"
                        " / ||phi||; DMRG ||(H - E) psi|| = sqrt(<H^2> - <H>^2)", "float64"),
    "solver_chi": ("1", "DMRG bond dimension reached", "float64"),
    "solver_truncation_error": ("1", "DMRG discarded weight of the last sweep", "float64"),
    "solver_n_max": ("1", "local occupation cutoff n_max", "float64"),
    "solver_occupation_max": ("1", "largest probability of n_i = n_max", "float64"),
    "solver_iterations": ("1", "DMRG sweeps / GP flow + Newton iterations", "float64"),
}
_SOLVER_BY_MODEL = {
    "hard_core": (),
    "ideal": ("solver_converged", "solver_energy_error", "solver_residual"),
    "mean_field": ("solver_converged", "solver_energy_error", "solver_residual",
                   "solver_iterations"),
    "bose_hubbard": tuple(_SOLVER_VARS),
}


def _solver_layout(geom, opts):
    return ({k: Variable((), (), *_SOLVER_VARS[k]) for k in _SOLVER_BY_MODEL[opts["model"]]},
            {})


def _solver_compute(ctx, opts):
    c = getattr(ctx.state, "convergence", {})
    nan = np.nan
    if opts["model"] == "bose_hubbard":
        res = np.sqrt(max(float(c.get("energy_variance", nan)), 0.0))
        it = c.get("sweeps", nan)
    else:
        res = c.get("residual", nan)
        it = c.get("flow_iterations", 0) + c.get("newton_iterations", 0)
    allv = {"solver_converged": np.int64(bool(c.get("converged", False))),
            "solver_energy_error": np.float64(c.get("energy_error", nan)),
            "solver_residual": np.float64(res),
            "solver_chi": np.float64(c.get("chi", nan)),
            "solver_truncation_error": np.float64(c.get("truncation_error", nan)),
            "solver_n_max": np.float64(c.get("n_max", nan)),
            "solver_occupation_max": np.float64(c.get("occupation_max", nan)),
            "solver_iterations": np.float64(it)}
    return {k: allv[k] for k in _SOLVER_BY_MODEL[opts["model"]]}


TWIST_STIFFNESS = Observable(
    "twist_stiffness", _ts_layout, _ts_compute,
    options=(Option("thetas", [0.5], real_list("thetas", -np.pi, np.pi), "boson twists theta (nonzero for "
                    "mean_field / bose_hubbard)"), _MODEL_OPT),
    description="rho_s from E_0(theta) - E_0(0), every interaction model")
LUTTINGER = Observable(
    "luttinger", _lutt_layout, _lutt_compute, options=(_MODEL_OPT,),
    description="Luttinger parameter K_L = L S(2 pi / L) from <n_i n_j> (bose_hubbard)")
SOLVER = Observable(
    "solver", _solver_layout, _solver_compute, options=(_MODEL_OPT,),
    description="per-sample convergence record of the interacting ground-state solver")

OBSERVABLES = (TWIST_STIFFNESS, LUTTINGER, SOLVER)
