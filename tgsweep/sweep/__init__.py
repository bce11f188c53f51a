"""Ensemble sweeps: spec -> (grid point, sample chunk) tasks -> Zarr store with summaries.

The public names below are loaded on first use (PEP 562 module ``__getattr__``), so that
importing one light submodule -- ``tgsweep status`` reads a store through
:mod:`tgsweep.sweep.storeview` -- does not load the spec validation, the observable registry
and the store writer; ``from tgsweep.sweep import run_sweep`` works as usual.
"""
import importlib as _importlib

#: public name -> submodule that declares it
_PUBLIC = {"SpecError": "errors", "Spec": "spec", "load_spec": "spec", "parse_spec": "spec",
           "MemoryStore": "store", "ZarrStore": "store", "StoreLocked": "store",
           "open_dataset": "store", "summarize": "store", "RunReport": "runner",
           "StoreExists": "runner", "run_sweep": "runner", "sample_rng": "tasks"}

__all__ = list(_PUBLIC)


def __getattr__(name):
    mod = _PUBLIC.get(name)
    if mod is None:  # a submodule not imported yet (``tgsweep.sweep.tasks``)
        try:
            return _importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(_importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
