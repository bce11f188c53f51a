"""Ensemble sweeps: spec -> (grid point, sample chunk) tasks -> Zarr store with summaries."""
from .errors import SpecError
from .spec import Spec, load_spec, parse_spec
from .store import MemoryStore, ZarrStore, StoreLocked, open_dataset, summarize
from .runner import RunReport, StoreExists, run_sweep
from .tasks import sample_rng

__all__ = ["Spec", "SpecError", "load_spec", "parse_spec", "MemoryStore", "ZarrStore",
           "StoreLocked", "open_dataset", "summarize", "RunReport", "StoreExists", "run_sweep",
           "sample_rng"]
