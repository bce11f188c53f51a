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
from ..core.thermal import thermal_state
from .errors import SpecError

__all__ = ["INTERACTIONS", "MODEL_KEYS", "check_interaction", "check_state_for",
           "check_observables_for", "make_state", "TG_ONLY", "MODEL_AWARE"]

INTERACTIONS = MODELS
#: model keys each interaction accepts (besides kind and the geometry keys)
MODEL_KEYS = {"hard_core": (), "ideal": (), "mean_field": ("g",),
              "bose_hubbard": ("U", "n_max", "chi_max")}
_ALL_KEYS = ("interaction", "g", "U", "n_max", "chi_max")
#: observables defined through the Bose-Fermi map only
TG_ONLY = ("stiffness", "dynamics", "particle_numbers")
#: observables whose stored variables depend on the model (option ``model``, filled in here)
MODEL_AWARE = ("twist_stiffness", "luttinger", "solver")


def _num(field, v, *, integer=False, nonneg=True, minimum=None):
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
    if inter != "hard_core" and "mu" in state:
        raise SpecError("state.mu", f"interaction = {inter!r} needs state.n_particles "
                        "(a chemical potential is only supported for 'hard_core')")


def check_observables_for(inter: str, obs: dict, state: dict | None = None) -> dict:
    """Refuse observables undefined for ``inter``; add the per-sample ``solver`` record for
    interacting models; fill the option ``model`` of the model-aware observables."""
    if inter == "hard_core":
        for name in ("luttinger", "solver"):
            if name in obs:
                raise SpecError(f"observables.{name}", "only for interacting models "
                                "(model.interaction other than 'hard_core')")
    else:
        for name in obs:
            if name in TG_ONLY:
                raise SpecError(f"observables.{name}", f"defined for hard-core bosons only; "
                                f"with interaction = {inter!r} use twist_stiffness")
        if "luttinger" in obs and inter != "bose_hubbard":
            raise SpecError("observables.luttinger", "needs interaction = 'bose_hubbard' "
                            "(density correlations)")
        if "twist_stiffness" in obs and inter in ("mean_field", "bose_hubbard"):
            th = obs["twist_stiffness"].get("thetas", [0.5]) if isinstance(
                obs["twist_stiffness"], dict) else []
            if isinstance(th, list) and any(isinstance(x, (int, float)) and np.sin(0.5 * x) == 0
                                            for x in th):
                raise SpecError("observables.twist_stiffness.thetas", "theta = 0 is only "
                                "resolved for 'ideal' and 'hard_core'")
        obs = {**obs, "solver": obs.get("solver", {})}
    if "twist_stiffness" in obs and float((state or {}).get("twist", 0.0)) != 0.0:
        raise SpecError("observables.twist_stiffness", "needs state.twist = 0 (it computes "
                        "the twisted states itself)")
    out = {}
    for name, opts in obs.items():
        if name in MODEL_AWARE and isinstance(opts, dict):
            if opts.get("model", inter) != inter:
                raise SpecError(f"observables.{name}.model", f"is set from model.interaction "
                                f"({inter!r}); leave it out")
            opts = {**opts, "model": inter}
        out[name] = opts
    return out


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


#: hard-core ground states on rings with at least this many grid points use the certified
#: spatially sliced eigensolver (``ground_state(..., method="sliced")``, a LocalizedState)
#: when every observable of the spec accepts one (``Observable.localized``)
SLICED_MIN = 4096


def make_state(ring, params: dict, localized: bool = False):
    """The sample's ground state for the point's model/state parameters.  ``localized``: the
    observables accept a LocalizedState, so rings of >= SLICED_MIN points (lattice or
    continuum) get the sliced solver (its global path where the ring does not slice)."""
    model, st = params["model"], params["state"]
    inter = model.get("interaction", "hard_core")
    twist = float(st.get("twist", 0.0))
    if inter == "hard_core":
        if "temperature" in st:
            ens = st.get("ensemble", "grand" if "mu" in st else "canonical")
            kw = ({"mu": float(st["mu"])} if ens == "grand"
                  else {"n_particles": int(st["n_particles"])})
            return thermal_state(ring, float(st["temperature"]), ensemble=ens, twist=twist, **kw)
        method = "sliced" if localized and ring.n_grid >= SLICED_MIN else "auto"
        if "mu" in st:
            return ground_state(ring, mu=float(st["mu"]), twist=twist, method=method)
        return ground_state(ring, n_particles=int(st["n_particles"]), twist=twist,
                            method=method)
    return interacting_ground_state(ring, int(st["n_particles"]), model=inter, twist=twist,
                                    **_solver_options(model))
