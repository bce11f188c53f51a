"""tgsweep: the disordered Tonks-Girardeau gas on a ring, sample by sample and ensemble-wide.

Units hbar^2/2m = 1.  See README.md for every convention.
"""
import sys as _sys
from importlib.util import find_spec as _find_spec

_missing = [m for m in ("numpy", "scipy", "numba", "xarray", "zarr", "threadpoolctl")
            if _find_spec(m) is None]
if _missing:  # e.g. `python3 -c "import tgsweep"` outside the project's virtual environment
    raise ModuleNotFoundError(
        f"tgsweep needs {', '.join(_missing)}, not installed for {_sys.executable}. In a "
        "checkout: `python3 dev.py quickstart` creates .venv with everything; then "
        "`. .venv/bin/activate`, or prefix commands with `python3 dev.py run` (e.g. "
        "`python3 dev.py run python -c 'import tgsweep'`); or `pip install -e .` in the "
        "checkout.", name=_missing[0])
from .models.ring import Ring
from .core.state import State, LocalizedState, ground_state, excited_state, particle_numbers
from .core.obdm import obdm
from .core.band import obdm_band
from .core.thermal import ThermalState, thermal_evolve, thermal_state
from .core.interacting import InteractingState, interacting_ground_state
from . import threads

threads.apply_default()  # one BLAS thread per process by default: see tgsweep.threads

__version__ = "0.1.0"

__all__ = ["Ring", "State", "LocalizedState", "ground_state", "excited_state", "particle_numbers", "obdm", "obdm_band",
           "ThermalState", "thermal_state", "thermal_evolve",
           "InteractingState", "interacting_ground_state", "threads", "__version__"]
