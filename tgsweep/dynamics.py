"""Public namespace for free-fermion (Tonks-Girardeau) dynamics: see
:mod:`tgsweep.observables.dynamics` for conventions and units."""

from .observables.dynamics import *  # noqa: F401,F403
from .observables.dynamics import __all__  # noqa: F401
