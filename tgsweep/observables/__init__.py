"""Per-sample physics observables: a state (+ options) -> small NumPy arrays with units.

Names are resolved lazily from their submodules (PEP 562) so that importing one observable does
not compile every kernel.  To add an observable, add its module to ``_NAMES``.
"""

from __future__ import annotations

import importlib

_NAMES = {
    # correlations (issue: HS decay, condensate, momentum distribution, ECL)
    "hs_blocks": "correlations",
    "hs_profile": "correlations",
    "hs_bound": "correlations",
    "condensate": "correlations",
    "momentum_distribution": "correlations",
    "ecl_profile": "correlations",
    "fit_ecl": "correlations",
    "band_condensate": "correlations",
    "band_hs_profile": "correlations",
    # localization
    "lyapunov": "lyapunov",
    # superfluid stiffness
    "stiffness": "stiffness",
}

__all__ = sorted(_NAMES)

# the submodule lyapunov.py shares its public name: bind the function eagerly, else importing the
# submodule (explicitly or via __getattr__) would leave the *module* bound to this name
from .lyapunov import lyapunov  # noqa: E402
from .stiffness import stiffness  # noqa: E402


def __getattr__(name):
    mod = _NAMES.get(name)
    if mod is None:
        raise AttributeError(f"module 'tgsweep.observables' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{mod}", __name__), name)


def __dir__():
    return __all__
