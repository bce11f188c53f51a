"""Text reports of a store: ``tgsweep info`` and ``tgsweep status --verify`` (plain
``tgsweep status`` is :mod:`tgsweep.sweep.storeview`, which loads no physics; its names are
re-exported here)."""

from __future__ import annotations

import json

from .spec import parse_spec
from .store import ZarrStore, shard_plan
from .storeview import StoreView, status_counts, status_text

__all__ = ["status_counts", "status_text", "info_text", "verify_text", "StoreView"]


def info_text(ds) -> str:
    lines = ["dimensions: " + ", ".join(f"{d}={n}" for d, n in ds.sizes.items())]
    lines.append("variables:")
    for name, v in ds.data_vars.items():
        unit = v.attrs.get("natural_units", v.attrs.get("units", ""))
        lines.append(f"  {name}({', '.join(v.dims)}) {v.dtype}  [{unit}]  "
                     f"{v.attrs.get('long_name', '')}")
    lines.append("provenance:")
    for key in ("tgsweep_version", "git_commit", "versions", "host", "created", "updated", "seed",
                "spec_source", "cluster"):
        if key in ds.attrs:
            lines.append(f"  {key}: {ds.attrs[key]}")
    if "spec" in ds.attrs:
        lines.append("  spec: " + json.dumps(json.loads(ds.attrs["spec"]), sort_keys=True))
    return "\n".join(lines)


def verify_text(path) -> tuple[str, bool]:
    """``tgsweep status --verify``: every shard and coordinate of the store at ``path`` read and
    checked (:meth:`tgsweep.sweep.storage.ResultStore.verify`); (report, clean)."""

    store = ZarrStore(path)
    spec = parse_spec(json.loads(store.spec_json()))
    damage = store.verify(spec)
    plan = shard_plan(spec, store.shard_bytes())
    if not damage:
        return (f"verified: {plan.n_shards} shards x {len(store.layout_of(spec)[0])} arrays and "
                "every coordinate readable, checksums match, done flags consistent"), True
    lines = [f"damaged: {len(damage)} problem(s)"]
    lines += ["  " + d.text(plan, spec.dims) for d in damage]
    lines.append("run `tgsweep run SPEC --out STORE --resume` to recompute what is missing or "
                 "corrupt")
    return "\n".join(lines), False
