"""The interaction axis in sweeps: ``[model] interaction = ...`` and its observables.

Spec keys (section ``[model]``; the grid may vary g, U, n_max, chi_max but not ``interaction``:
run one spec per model, e.g. the members of a ``[[series]]`` workflow)::

    interaction = "hard_core" (default) | "ideal" | "mean_field" | "bose_hubbard"
    g       = coupling of the GP / discrete NLS energy (mean_field; required, >= 0)
    U       = on-site interaction (bose_hubbard; required, >= 0, units of t; lattice only)
    n_max   = local occupation cutoff (bose_hubbard; default min(N, 4); 1 = hard core)
    chi_max = DMRG bond dimension (bose_hubbard; default 128)

Interacting models need ``state.n_particles`` (a chemical potential is a TG notion here).
Observables that use the free-fermion structure (``stiffness``, ``dynamics``,
``particle_numbers``) are refused for them; ``twist_stiffness`` (every model),
``luttinger`` (bose_hubbard) and the per-sample solver record ``solver`` (added automatically
for interacting models) are declared here.
"""

from __future__ import annotations

import numpy as np

from ..core.interacting import MODELS, interacting_ground_state
from ..core.state import ground_state
from ..observables.interacting import interacting_stiffness, luttinger_parameter, \
    structure_factor
from .registry import Coord, Observable, Variable, energy_units, register

__all__ = ["INTERACTIONS", "MODEL_KEYS", "check_interaction", "make_state", "TG_ONLY"]

INTERACTIONS = MODELS
#: model keys each interaction accepts (besides kind and the geometry keys)
MODEL_KEYS = {"hard_core": (), "ideal": (), "mean_field": ("g",),
              "bose_hubbard": ("U", "n_max", "chi_max")}
_ALL_KEYS = ("interaction", "g", "U", "n_max", "chi_max")
#: observables defined through the Bose-Fermi map only
TG_ONLY = ("stiffness", "dynamics", "particle_numbers")


def _num(field, v, *, integer=False, nonneg=True, minimum=None):
    from .spec import SpecError

    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
    if ok and integer:
        ok = float(v).is_integer()
    if ok and nonneg and v < 0:
        ok = False
    if ok and minimum is not None and v < minimum:
        ok = False
    if not ok:
        what = "an integer" if integer else "a finite number"
        bound = f" >= {minimum}" if minimum is not None else (" >= 0" if nonneg else "")
        raise SpecError(field, f"must be {what}{bound}, got {v!r}")
    return int(v) if integer else float(v)


def check_interaction(model: dict, prefix: str = "model") -> tuple[dict, dict]:
    """Split ``model`` into (geometry keys, interaction params); validate the latter."""
    from .spec import SpecError

    inter = model.get("interaction", "hard_core")
    if inter not in INTERACTIONS:
        raise SpecError(f"{prefix}.interaction", f"must be one of {', '.join(INTERACTIONS)}, "
                        f"got {inter!r}")
    rest = {k: v for k, v in model.items() if k not in _ALL_KEYS}
    allowed = MODEL_KEYS[inter]
    out = {"interaction": inter}
    for key in _ALL_KEYS[1:]:
        if key in model and key not in allowed:
            raise SpecError(f"{prefix}.{key}", f"not a parameter of interaction = {inter!r}; "
                            f"allowed: {', '.join(allowed) or 'none'}")
    if inter == "mean_field":
        if "g" not in model:
            raise SpecError(f"{prefix}.g", "required for interaction = 'mean_field' (>= 0)")
        out["g"] = _num(f"{prefix}.g", model["g"])
    if inter == "bose_hubbard":
        if model.get("kind") != "lattice":
            raise SpecError(f"{prefix}.interaction", "'bose_hubbard' needs kind = 'lattice'")
        if "U" not in model:
            raise SpecError(f"{prefix}.U", "required for interaction = 'bose_hubbard' (>= 0)")
        out["U"] = _num(f"{prefix}.U", model["U"])
        if "n_max" in model:
            out["n_max"] = _num(f"{prefix}.n_max", model["n_max"], integer=True, minimum=1)
        if "chi_max" in model:
            out["chi_max"] = _num(f"{prefix}.chi_max", model["chi_max"], integer=True,
                                  minimum=2)
    return rest, out


def check_state_for(inter: str, state: dict) -> None:
    from .spec import SpecError

    if inter != "hard_core" and "mu" in state:
        raise SpecError("state.mu", f"interaction = {inter!r} needs state.n_particles "
                        "(a chemical potential is only supported for 'hard_core')")


def check_observables_for(inter: str, names) -> None:
    from .spec import SpecError

    if inter == "hard_core":
        for name in ("luttinger", "solver"):
            if name in names:
                raise SpecError(f"observables.{name}", "only for interacting models "
                                "(model.interaction other than 'hard_core')")
        return
    for name in names:
        if name in TG_ONLY:
            raise SpecError(f"observables.{name}", f"defined for hard-core bosons only; with "
                            f"interaction = {inter!r} use twist_stiffness")
    if "luttinger" in names and inter != "bose_hubbard":
        raise SpecError("observables.luttinger", "needs interaction = 'bose_hubbard' (density "
                        "correlations)")


def _solver_options(model: dict) -> dict:
    inter = model.get("interaction", "hard_core")
    if inter == "bose_hubbard":
        opts = {"U": model["U"], "n_max": model.get("n_max")}
        if "chi_max" in model:
            opts["chi_max"] = model["chi_max"]
        return opts
    if inter == "mean_field":
        return {"g": model["g"]}
    return {}


def make_state(ring, params: dict):
    """The sample's ground state for the point's model/state parameters."""
    model, st = params["model"], params["state"]
    inter = model.get("interaction", "hard_core")
    twist = float(st.get("twist", 0.0))
    if inter == "hard_core":
        if "mu" in st:
            return ground_state(ring, mu=float(st["mu"]), twist=twist)
        return ground_state(ring, n_particles=int(st["n_particles"]), twist=twist)
    return interacting_ground_state(ring, int(st["n_particles"]), model=inter, twist=twist,
                                    **_solver_options(model))


# ------------------------------------------------------------------------------ observables
def _ts_layout(geom, opts):
    th = np.asarray(opts["thetas"], dtype=float)
    d, s = ("twist_theta",), (th.size,)
    e_u = "1/length" if geom["kind"] == "continuum" else "1/site"
    out = {"twist_rho_s": Variable(d, s, e_u, "L (E_0(theta) - E_0(0)) / theta^2"),
           "twist_rho_s_error": Variable(d, s, e_u, "estimated absolute error of twist_rho_s"),
           "twist_reliable": Variable(d, s, "1", "1 if the error is < 1% of rho_s", "int8")}
    if opts.get("log10"):  # ideal / hard core: resolved far below the double range
        out["twist_log10_rho_s"] = Variable(d, s, "1", "log10 of twist_rho_s")
    if opts.get("leggett"):
        out["leggett_rho_s"] = Variable((), (), e_u, "L / sum_bonds 1/(t w sqrt(n_i n_i+1)): "
                                        "the theta -> 0 GP stiffness (Leggett's bound)")
    return out, {"twist_theta": Coord(th, "rad", "boson twist theta")}


def _ts_validate(opts, spec):
    from .spec import SpecError

    th = opts["thetas"]
    if not (isinstance(th, list) and th and all(isinstance(x, (int, float))
                                                and not isinstance(x, bool) for x in th)):
        raise SpecError("observables.twist_stiffness.thetas", "must be a non-empty list of "
                        "numbers")
    inter = spec.model.get("interaction", "hard_core")
    if inter in ("mean_field", "bose_hubbard") and any(np.sin(0.5 * x) == 0 for x in th):
        raise SpecError("observables.twist_stiffness.thetas", "theta = 0 (mod 2 pi) is only "
                        "resolved for 'ideal' and 'hard_core'")
    if float(spec.state.get("twist", 0.0)) != 0.0:
        raise SpecError("observables.twist_stiffness", "needs state.twist = 0")
    return {**opts, "leggett": inter == "mean_field", "log10": inter in ("ideal", "hard_core")}


def _ts_compute(ctx, opts):
    model = ctx.params["model"]
    inter = model.get("interaction", "hard_core")
    n = int(ctx.state.n_particles)
    opts_s = _solver_options(model)
    state0 = ctx.state if inter in ("mean_field", "bose_hubbard") else None
    r = interacting_stiffness(ctx.ring, n, np.asarray(opts["thetas"], float), model=inter,
                              state0=state0, **opts_s)
    out = {"twist_rho_s": r.rho_s, "twist_rho_s_error": r.error,
           "twist_reliable": r.reliable.astype(np.int8)}
    if opts.get("log10"):
        out["twist_log10_rho_s"] = r.log10_rho_s
    if opts.get("leggett"):
        out["leggett_rho_s"] = np.float64(r.leggett)
    return out


def _lutt_layout(geom, opts):
    m = geom["n_grid"]
    return ({"luttinger_K": Variable((), (), "1", "K_L = L S(2 pi / L) (structure-factor slope)"),
             "structure_factor": Variable(("q",), (m,), "1", "density structure factor S(q)")},
            {"q": Coord(2 * np.pi * np.arange(m) / m, "1/site", "momentum q = 2 pi j / L")})


def _lutt_compute(ctx, opts):
    _, s = structure_factor(ctx.state)
    return {"luttinger_K": np.float64(luttinger_parameter(ctx.state)), "structure_factor": s}


_SOLVER_VARS = {
    "solver_converged": ("1", "1 if the ground-state solver met its tolerance", "int8"),
    "solver_energy_error": (None, "estimated |E - E_exact| of the solver", "float64"),
    "solver_residual": (None, "GP: ||H phi + g|phi|^2 phi - mu phi|| / ||phi||; DMRG: energy "
                        "variance <H^2> - <H>^2", "float64"),
    "solver_chi": ("1", "DMRG bond dimension reached (nan otherwise)", "float64"),
    "solver_truncation_error": ("1", "DMRG discarded weight of the last sweep", "float64"),
    "solver_n_max": ("1", "local occupation cutoff n_max", "float64"),
    "solver_occupation_max": ("1", "largest probability of n_i = n_max", "float64"),
    "solver_iterations": ("1", "DMRG sweeps / GP flow + Newton iterations", "float64"),
}


_SOLVER_BY_MODEL = {
    "ideal": ("solver_converged", "solver_energy_error", "solver_residual"),
    "mean_field": ("solver_converged", "solver_energy_error", "solver_residual",
                   "solver_iterations"),
    "bose_hubbard": tuple(_SOLVER_VARS),
}


def _solver_validate(opts, spec):
    return {**opts, "model": spec.model.get("interaction", "hard_core")}


def _solver_layout(geom, opts):
    eu = energy_units(geom)
    names = _SOLVER_BY_MODEL.get(opts.get("model"), ())
    return ({k: Variable((), (), _SOLVER_VARS[k][0] or eu, _SOLVER_VARS[k][1],
                         _SOLVER_VARS[k][2]) for k in names}, {})


def _solver_compute(ctx, opts):
    c = getattr(ctx.state, "convergence", {})
    nan = np.nan
    if ctx.state.model == "bose_hubbard":
        res, it = c.get("energy_variance", nan), c.get("sweeps", nan)
    else:
        res = c.get("residual", nan)
        it = c.get("flow_iterations", 0) + c.get("newton_iterations", 0)
    allv = {"solver_converged": np.int8(bool(c.get("converged", False))),
            "solver_energy_error": np.float64(c.get("energy_error", nan)),
            "solver_residual": np.float64(res),
            "solver_chi": np.float64(c.get("chi", nan)),
            "solver_truncation_error": np.float64(c.get("truncation_error", nan)),
            "solver_n_max": np.float64(c.get("n_max", nan)),
            "solver_occupation_max": np.float64(c.get("occupation_max", nan)),
            "solver_iterations": np.float64(it)}
    return {k: allv[k] for k in _SOLVER_BY_MODEL[ctx.state.model]}


register(Observable("twist_stiffness", _ts_layout, _ts_compute, defaults={"thetas": [0.5]},
                    validate=_ts_validate,
                    description="rho_s from E_0(theta) - E_0(0), every interaction model"))
register(Observable("luttinger", _lutt_layout, _lutt_compute,
                    description="Luttinger parameter from the structure factor (bose_hubbard)"))
register(Observable("solver", _solver_layout, _solver_compute, validate=_solver_validate,
                    description="per-sample convergence record of the interacting solver"))
