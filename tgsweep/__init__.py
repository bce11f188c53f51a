"""tgsweep: the disordered Tonks-Girardeau gas on a ring, sample by sample and ensemble-wide.

Units hbar^2/2m = 1.  See README.md for every convention.
"""
from .models.ring import Ring
from .core.state import State, ground_state, excited_state, particle_numbers
from .core.obdm import obdm
from . import potentials
from . import threads

threads.apply_default()  # one BLAS thread per process by default: see tgsweep.threads

__version__ = "0.1.0"

__all__ = ["Ring", "State", "ground_state", "excited_state", "particle_numbers", "obdm",
           "potentials", "threads", "__version__"]
