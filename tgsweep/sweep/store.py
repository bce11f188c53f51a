"""Result stores: a pre-allocated Zarr (v3) store and an in-memory twin used by tests.

Layout (every store)::

    VAR(grid dims..., sample, observable dims...)   chunks (1, ..., 1, samples_per_task, full)
    status(grid dims..., sample)  int8   0 pending, 1 ok, 2 error, 3 non-finite, 4 self-check
    error(grid dims..., sample)   <U200  error text ("" when ok)
    done(grid dims..., chunk)     int8   1 once a task's region (data, status, error) is written
    coordinates of the grid dims, of ``sample`` and of each observable dim

Each task writes exactly its own chunk-aligned region and then its ``done`` element, so no two
writers ever touch the same chunk and no appends happen (cf. xarray #8371, #6435).  Every
variable carries ``units`` and ``long_name``; the root attributes carry the spec (JSON),
versions, git commit, host, seed and times.  A ``summary`` group (mean, standard error over the
valid samples) is written when a run completes.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import subprocess
import uuid
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from . import registry
from ..models.units import UNIT_SYSTEM, unit_attrs
from .spec import grid_dimension
from .tasks import ERROR_WIDTH, STATUS, ChunkResult

__all__ = ["ArraySpec", "store_layout", "ResultStore", "MemoryStore", "ZarrStore", "StoreLocked",
           "provenance", "summarize", "open_dataset"]

_STATUS_DOC = "; ".join(f"{v} {k}" for k, v in STATUS.items())


class StoreLocked(RuntimeError):
    """Another run holds the store's lock."""


@dataclass(frozen=True)
class ArraySpec:
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: str
    fill: object
    attrs: dict


def _coord_values(values: list) -> np.ndarray:
    return np.asarray(values)  # numpy's promotion: ints, floats (mixed -> float) or strings


def store_layout(spec) -> tuple[dict[str, ArraySpec], dict[str, tuple[tuple, np.ndarray, dict]]]:
    """Arrays and coordinates of the store of ``spec``.

    Returns (arrays: name -> ArraySpec, coords: name -> (dims, values, attrs)).
    """
    gdims = tuple(spec.dims)
    gshape = spec.grid_shape
    ones = (1,) * len(gdims)
    spt = spec.samples_per_task
    arrays: dict[str, ArraySpec] = {}
    coords: dict[str, tuple] = {}
    geom = spec.geometry()
    for name, opts in spec.observables.items():
        variables, ocoords = registry.get(name).layout(geom, opts)
        for var, meta in variables.items():
            arrays[var] = ArraySpec(gdims + ("sample",) + meta.dims,
                                    gshape + (spec.n_samples,) + meta.shape,
                                    ones + (spt,) + meta.shape, meta.dtype, meta.fill,
                                    {**unit_attrs(meta.dimension, geom["kind"]),
                                     "long_name": meta.long_name,
                                     "observable": name})
        for dim, c in ocoords.items():
            coords[dim] = ((c.dim or dim,), np.asarray(c.values),
                           {**unit_attrs(c.dimension, geom["kind"]), "long_name": c.long_name})
    arrays["status"] = ArraySpec(gdims + ("sample",), gshape + (spec.n_samples,), ones + (spt,),
                                 "int8", 0, {"units": "1", "long_name": "per-sample status",
                                             "flag_meanings": _STATUS_DOC})
    arrays["error"] = ArraySpec(gdims + ("sample",), gshape + (spec.n_samples,), ones + (spt,),
                                f"<U{ERROR_WIDTH}", "",
                                {"units": "1", "long_name": "per-sample error text"})
    arrays["done"] = ArraySpec(gdims + ("chunk",), gshape + (spec.n_chunks,), ones + (1,), "int8",
                               0, {"units": "1", "long_name": "task (grid point, sample chunk) "
                                   "written (1) or not (0)"})
    coords["sample"] = (("sample",), np.arange(spec.n_samples),
                        {"units": "1", "long_name": "disorder sample index s"})
    coords["chunk"] = (("chunk",), np.arange(spec.n_chunks),
                       {"units": "1", "long_name": f"sample chunk ({spt} samples per task)"})
    for d in gdims:
        for key, values in spec.axes[d].items():
            cname = key.replace(".", "_")
            coords[cname] = ((d,), _coord_values(values),
                             {**unit_attrs(grid_dimension(key), geom["kind"]),
                              "long_name": f"grid parameter {key}"})
    return arrays, coords


def provenance(spec, extra: dict | None = None) -> dict:
    """Root attributes: spec, versions, git commit, host, seed, times."""
    import dask
    import numba
    import xarray
    import zarr

    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    attrs = {
        "title": "tgsweep ensemble sweep",
        "conventions": "hbar^2/2m = 1; boson twist theta, fermion twist theta + pi (N-1)",
        "unit_system": UNIT_SYSTEM[spec.geometry()["kind"]],
        "spec": spec.to_json(),
        "spec_source": spec.source or "",
        "seed": spec.seed,
        "tgsweep_version": __version__,
        "git_commit": _git_commit(),
        "versions": json.dumps({"numpy": np.__version__, "numba": numba.__version__,
                                "dask": dask.__version__, "xarray": xarray.__version__,
                                "zarr": zarr.__version__}),
        "host": socket.gethostname(),
        "created": now,
        "updated": now,
    }
    if extra:
        attrs.update(extra)
    return attrs


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=10)
        if rev.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "."],
                               cwd=here.parent, capture_output=True, text=True, timeout=10)
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class ResultStore(ABC):
    """Store interface (one interface, two back ends, as xarray's backends): pre-allocate, region writes, done flags."""

    layout: dict[str, ArraySpec]

    @abstractmethod
    def create(self, spec, attrs: dict) -> None:
        """Pre-allocate every array for ``spec`` and set root attributes."""

    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def attrs(self) -> dict: ...

    @abstractmethod
    def update_attrs(self, attrs: dict) -> None: ...

    @abstractmethod
    def _write(self, name: str, region: tuple, values: np.ndarray) -> None: ...

    @abstractmethod
    def read(self, name: str) -> np.ndarray:
        """The whole array ``name`` (tests and small stores)."""

    @abstractmethod
    def to_dataset(self):
        """xarray Dataset of the raw samples (lazy where possible)."""

    @abstractmethod
    def write_summary(self, summary) -> None: ...

    # ------------------------------------------------------------------ shared logic
    def spec_json(self) -> str:
        return self.attrs()["spec"]

    def done(self) -> np.ndarray:
        """(n_points, n_chunks) bool array of finished tasks."""
        d = self.read("done")
        return d.reshape(-1, d.shape[-1]).astype(bool)

    def write_chunk(self, spec, result: ChunkResult) -> None:
        """Write one task's region: data, then status/error, then its done flag."""
        idx = tuple(slice(i, i + 1) for i in spec.point_index(result.p))  # exact-shape region
        s1 = result.s0 + result.status.size
        region = idx + (slice(result.s0, s1),)
        for var, arr in result.data.items():
            self._write(var, region, arr.reshape((1,) * len(idx) + arr.shape))
        self._write("error", region, result.errors.reshape((1,) * len(idx) + (-1,)))
        self._write("status", region, result.status.reshape((1,) * len(idx) + (-1,)))
        self._write("done", idx + (slice(result.c, result.c + 1),),
                    np.ones((1,) * len(idx) + (1,), dtype=np.int8))


class MemoryStore(ResultStore):
    """In-memory twin of :class:`ZarrStore` (serial runs and tests only)."""

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}
        self._coords: dict = {}
        self._attrs: dict = {}
        self.summary = None
        self.layout = {}

    def create(self, spec, attrs):
        self.layout, self._coords = store_layout(spec)
        self._arrays = {n: np.full(a.shape, a.fill, dtype=a.dtype) for n, a in self.layout.items()}
        self._attrs = dict(attrs)

    def exists(self):
        return bool(self._arrays)

    def attrs(self):
        return dict(self._attrs)

    def update_attrs(self, attrs):
        self._attrs.update(attrs)

    def _write(self, name, region, values):
        self._arrays[name][region] = values

    def read(self, name):
        return self._arrays[name].copy()

    def to_dataset(self):
        import xarray as xr

        data = {n: xr.Variable(a.dims, self._arrays[n], a.attrs) for n, a in self.layout.items()}
        coords = {n: xr.Variable(d, v, at) for n, (d, v, at) in self._coords.items()}
        return xr.Dataset(data, coords=coords, attrs=self._attrs)

    def write_summary(self, summary):
        self.summary = summary


_OPEN_GROUPS: dict[str, object] = {}
_OPEN_ARRAYS: dict[tuple[str, str], object] = {}
_IDENTITY: dict[str, tuple] = {}  # path -> ((inode, mtime, size) of zarr.json, store_id)


class ZarrStore(ResultStore):
    """Pre-allocated Zarr v3 directory store at ``path`` (picklable: holds only the path)."""

    @property
    def lock_path(self) -> Path:
        """The lock file, next to the store (``STORE.lock``), not inside the Zarr hierarchy."""
        p = Path(self.path)
        return p.with_name(p.name + ".lock")

    def __init__(self, path):
        self.path = str(path)
        self.layout = {}

    def __getstate__(self):
        return {"path": self.path, "layout": self.layout}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def _group(self, mode="r+"):
        import zarr

        key = self.path
        g = _OPEN_GROUPS.get(key) if mode == "r+" else None
        if g is None:
            g = zarr.open_group(self.path, mode=mode, zarr_format=3)
            if mode == "r+":
                _OPEN_GROUPS[key] = g
        return g

    def exists(self):
        return (Path(self.path) / "zarr.json").exists()

    def create(self, spec, attrs):
        import zarr

        self.layout, coords = store_layout(spec)
        _forget(self.path)
        g = zarr.open_group(self.path, mode="w-", zarr_format=3)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification")
            for name, a in self.layout.items():
                dt = str if np.dtype(a.dtype).kind == "U" else a.dtype  # variable-length UTF-8
                arr = g.create_array(name, shape=a.shape, chunks=a.chunks, dtype=dt,
                                     fill_value=a.fill, dimension_names=a.dims)
                arr.attrs.update(a.attrs)
            for name, (dims, values, at) in coords.items():
                arr = g.create_array(name, shape=values.shape, dtype=values.dtype,
                                     chunks=values.shape or None, dimension_names=dims,
                                     fill_value="" if values.dtype.kind == "U" else None)
                arr[...] = values
                arr.attrs.update(at)
        g.attrs.update({**attrs, "store_id": uuid.uuid4().hex})  # tells re-created stores apart

    def attrs(self):
        return dict(self._group("r").attrs)

    def update_attrs(self, attrs):
        self._group().attrs.update(attrs)

    def _check_identity(self) -> None:
        """Drop this process's cached handles if the store at ``path`` is not the one they were
        opened on (deleted and re-created, e.g. by another client of a long-lived scheduler).
        One stat per call; the root metadata is read only when it changed."""
        meta = Path(self.path) / "zarr.json"
        try:
            st = meta.stat()
        except FileNotFoundError:
            _forget(self.path)
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        known = _IDENTITY.get(self.path)
        if known is not None and known[0] == stamp:
            return
        try:
            sid = json.loads(meta.read_text()).get("attributes", {}).get("store_id")
        except (OSError, ValueError):
            sid = None
        if known is not None and known[1] != sid:
            _forget(self.path)
        _IDENTITY[self.path] = (stamp, sid)

    def _array(self, name):
        """The open array ``name`` (cached per process with the group: opening an array reads
        its metadata from disk, which cost as much as the write itself)."""
        key = (self.path, name)
        arr = _OPEN_ARRAYS.get(key)
        if arr is None:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 spec")
                arr = _OPEN_ARRAYS[key] = self._group()[name]
        return arr

    def _write(self, name, region, values):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification")
            self._array(name)[region] = values

    def write_chunk(self, spec, result: ChunkResult) -> None:
        """Write one task's region: data, status and error concurrently (one round trip to
        zarr's event loop), then, once they are all on disk, its done flag."""
        import asyncio

        from zarr.core.sync import sync

        self._check_identity()
        idx = tuple(slice(i, i + 1) for i in spec.point_index(result.p))
        region = idx + (slice(result.s0, result.s0 + result.status.size),)
        lead = (1,) * len(idx)
        items = [(var, arr.reshape(lead + arr.shape)) for var, arr in result.data.items()]
        items += [("error", result.errors.reshape(lead + (-1,))),
                  ("status", result.status.reshape(lead + (-1,)))]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification")
            arrays = [self._array(var).async_array for var, _ in items]

            async def write_all():
                await asyncio.gather(*(a.setitem(region, v) for a, (_, v) in zip(arrays, items)))

            sync(write_all())
            self._array("done")[idx + (slice(result.c, result.c + 1),)] = np.ones(
                lead + (1,), dtype=np.int8)

    def read(self, name):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification")
            return self._group("r")[name][...]

    def to_dataset(self):
        return open_dataset(self.path)

    def write_summary(self, summary):
        import zarr

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning)
            warnings.filterwarnings("ignore", message=".*Zarr V3 specification")
            summary.to_zarr(self.path, group="summary", mode="w", zarr_format=3,
                            consolidated=False)
        self.consolidate()
        del zarr

    def consolidate(self):
        import zarr

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata")
            zarr.consolidate_metadata(self.path)

    # ------------------------------------------------------------------ lock
    def acquire_lock(self) -> None:
        """Create the lock file; refuse if a live process on this host holds it."""
        lock = self.lock_path
        lock.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "since": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    holder = json.loads(lock.read_text() or "{}")
                except (OSError, ValueError):
                    holder = {}
                if _holder_alive(holder):
                    raise StoreLocked(
                        f"store {self.path} is in use by pid {holder.get('pid')} on "
                        f"{holder.get('host')} since {holder.get('since')}; wait for it to finish "
                        f"(or, if that run is dead, remove {lock})") from None
                lock.unlink(missing_ok=True)  # stale lock of a killed run
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            return
        raise StoreLocked(f"could not take the lock {lock}")

    def release_lock(self) -> None:
        lock = self.lock_path
        try:
            holder = json.loads(lock.read_text())
        except (OSError, ValueError):
            return
        if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            lock.unlink(missing_ok=True)


def _forget(path: str) -> None:
    """Drop the cached group and arrays of the store at ``path`` (it is being re-created)."""
    _OPEN_GROUPS.pop(path, None)
    _IDENTITY.pop(path, None)
    for key in [k for k in _OPEN_ARRAYS if k[0] == path]:
        del _OPEN_ARRAYS[key]


def _holder_alive(holder: dict) -> bool:
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    if holder.get("host") != socket.gethostname():
        return True  # cannot check a remote process: assume alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_dataset(path, group: str | None = None):
    """``xr.open_zarr`` of a tgsweep store (raw samples, or ``group="summary"``)."""
    import xarray as xr

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Zarr V3 specification")
        warnings.filterwarnings("ignore", category=RuntimeWarning, message=".*consolidated")
        return xr.open_zarr(path, group=group, consolidated=None)


def summarize(ds):
    """Mean and standard error over ``sample`` of every per-sample variable, using only samples
    with status 1 (ok).  Adds ``n_valid`` (number of samples used) per grid point.

    Standard error = std(ddof=1) / sqrt(n_valid) (NaN when n_valid < 2).
    """
    import xarray as xr

    ok = ds["status"] == STATUS["ok"]
    n = ok.sum("sample")
    out = {"n_valid": n.assign_attrs(units="1", long_name="valid samples used in the summary")}
    for name, var in ds.data_vars.items():
        if name in ("status", "error", "done") or "sample" not in var.dims:
            continue
        v = var.astype(np.float64).where(ok)
        mean = v.mean("sample")
        se = v.std("sample", ddof=1) / np.sqrt(n.where(n > 1))
        units = {k: var.attrs[k] for k in ("units", "natural_units") if k in var.attrs}
        out[f"{name}_mean"] = mean.assign_attrs(**units, long_name="mean of "
                                                + var.attrs.get("long_name", name))
        out[f"{name}_stderr"] = se.assign_attrs(**units, long_name="standard error of the mean of "
                                                + var.attrs.get("long_name", name))
    res = xr.Dataset(out)
    res = res.drop_vars([c for c in res.coords if "sample" in res[c].dims or c == "chunk"],
                        errors="ignore")
    res.attrs = {"long_name": "mean and standard error over valid samples (status == 1)"}
    return res
