"""Disorder generators (public alias of :mod:`tgsweep.models.potentials`)."""
from .models.potentials import *  # noqa: F401,F403
from .models.potentials import __all__  # noqa: F401
