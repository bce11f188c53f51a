"""tgsweep: the disordered Tonks-Girardeau gas on a ring, sample by sample and ensemble-wide.

Units hbar^2/2m = 1.  See README.md for every convention.
"""
from .models.ring import Ring
from .core.state import State, LocalizedState, ground_state, excited_state, particle_numbers
from .core.obdm import obdm
from .core.band import obdm_band
from .core.thermal import ThermalState, thermal_evolve, thermal_state
from .core.interacting import InteractingState, interacting_ground_state

__version__ = "0.1.0"

__all__ = ["Ring", "State", "LocalizedState", "ground_state", "excited_state", "particle_numbers", "obdm", "obdm_band",
           "ThermalState", "thermal_state", "thermal_evolve",
           "InteractingState", "interacting_ground_state", "__version__"]
