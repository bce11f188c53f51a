"""Result stores: the public names in one place.

:mod:`tgsweep.sweep.storage` holds the format-independent part (layout, shard plan, the single
buffered write path, verification, streamed summaries, the in-memory store);
:mod:`tgsweep.sweep.zarrstore` the Zarr v3 back end (sharded, checksummed, atomically created);
:mod:`tgsweep.sweep.lock` the run lock.  ``xr.open_zarr(STORE)`` reads a store directly.
"""

from __future__ import annotations

from .lock import StoreLocked
from .storage import (SHARD_BYTES, ArraySpec, Damage, MemoryStore, ResultStore, ShardPlan,
                      effective_spec, file_count, provenance, shard_plan, store_layout, summarize)
from .zarrstore import ZarrStore, interrupted_creations, is_disk_full, open_dataset

__all__ = ["SHARD_BYTES", "ArraySpec", "Damage", "MemoryStore", "ResultStore", "ShardPlan", "StoreLocked",
           "ZarrStore", "effective_spec", "file_count", "interrupted_creations", "is_disk_full",
           "open_dataset", "provenance", "shard_plan", "store_layout", "summarize"]
