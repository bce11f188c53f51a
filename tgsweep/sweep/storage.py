"""Result stores, independent of the file format: layout, shard plan, the single write path,
verification, streamed summaries, and the in-memory store used by tests.

Layout (every store)::

    VAR(grid dims..., sample, observable dims...)   inner chunk = one task's region
    status(grid dims..., sample)  int8   0 pending, 1 ok, 2 error, 3 non-finite, 4 self-check
    error(grid dims..., sample)   str    error text ("" when ok)
    done(grid dims..., chunk)     int8   1 once a task's region (data, status, error) is stored
    coordinates of the grid dims, of ``sample`` and of each observable dim

Shards.  Arrays are stored in *shards* ``(g_1, ..., g_k, K samples_per_task, observable
shape)`` (:func:`shard_plan`): K whole tasks along ``sample`` (and, when a grid point's samples
all fit, several grid points), sized so that one shard of all variables together holds about
:data:`SHARD_BYTES` uncompressed.  A shard is one Zarr chunk, one file per array; the ``done``
array has one chunk per shard.  The number of files of a store is therefore

    files = A (n_shards + 1) + 2 n_coords + 1        (+ the summary group)

with A = per-sample variables + status + error + done (one file per shard each, plus one
metadata file each), n_shards = prod_d ceil(G_d / g_d) * ceil(n_chunks / K), two files per
coordinate and the root metadata: it grows with the shards, not with the samples.  (A chunk per
task, or Zarr's sharding codec with an inner chunk per task, costs a decode per task on every
read: measured 10-20x slower ``status`` and summaries; with a single writer nothing needs
task-aligned chunks.)

Single writer.  Only the process that runs the sweep writes (workers return their
:class:`~tgsweep.sweep.tasks.ChunkResult`).  :meth:`ResultStore.write_chunk` copies a task's
arrays into the buffer of its shard; a shard is written whole when all its missing tasks have
arrived, or, partially filled, at most ``flush_seconds`` (5 s; or 100 times the cost of the
last partial write, whichever is longer) after its first unwritten task arrived, and at
:meth:`ResultStore.flush`.  The buffer holds the whole shard and stays after a partial write,
so nothing is read back while a run fills it; only a shard holding tasks of an earlier run (a
resume), or a buffer evicted above ``buffer_bytes``, is read once into its new buffer (safe
because nobody else writes).  Data, status and
error go first, the shard's ``done`` flags last, so a kill at any moment loses only tasks that
are not yet flagged done, and ``--resume`` recomputes exactly those (bitwise identical).

This module holds everything that does not depend on the file format; the Zarr back end is
:mod:`tgsweep.sweep.zarrstore`, and :mod:`tgsweep.sweep.store` gathers the public names.
"""

from __future__ import annotations

import copy
import os
import datetime as _dt
import json
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from .. import __version__
from ..models.units import UNIT_SYSTEM, unit_attrs
from . import registry
from . import stats
from .faults import fault_point
from .spec import grid_dimension
from .tasks import ERROR_WIDTH, STATUS, ChunkResult

__all__ = ["ArraySpec", "ShardPlan", "shard_plan", "store_layout", "effective_spec",
           "provenance", "prefetch_provenance", "default_shard_bytes", "ResultStore",
           "MemoryStore", "Damage", "summarize", "SHARD_BYTES", "SummaryTable",
           "SummaryAccumulator", "shard_moments", "file_count", "present"]

_STATUS_DOC = "; ".join(f"{v} {k}" for k, v in STATUS.items())

#: uncompressed bytes of one shard (all per-sample variables together)
SHARD_BYTES = 8 << 20
#: bytes per sample counted for the error text (a reference to a short string)
_ERROR_BYTES = 8


@dataclass(frozen=True)
class ArraySpec:
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: str
    fill: object
    attrs: dict
    shards: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ShardPlan:
    """Shard sizes: ``grid_block[d]`` grid points along grid dim d, ``tasks`` sample chunks."""

    grid_shape: tuple[int, ...]
    grid_block: tuple[int, ...]
    tasks: int
    samples_per_task: int
    n_samples: int
    n_chunks: int

    @property
    def samples(self) -> int:
        return self.tasks * self.samples_per_task

    @property
    def counts(self) -> tuple[int, ...]:
        """Shards along each grid dim and along ``sample``."""
        return tuple(-(-g // b) for g, b in zip(self.grid_shape, self.grid_block)) + (
            -(-self.n_chunks // self.tasks),)

    @property
    def n_shards(self) -> int:
        return int(np.prod(self.counts, dtype=np.int64))

    def keys(self):
        """Every shard key (grid block index..., sample block index), C order."""
        return (tuple(int(i) for i in k) for k in np.ndindex(*self.counts))

    def key_of(self, index: tuple[int, ...], c: int) -> tuple[int, ...]:
        return tuple(i // b for i, b in zip(index, self.grid_block)) + (c // self.tasks,)

    def grid_slices(self, key) -> tuple[slice, ...]:
        return tuple(slice(k * b, min((k + 1) * b, g))
                     for k, b, g in zip(key[:-1], self.grid_block, self.grid_shape))

    def sample_slice(self, key) -> slice:
        j = key[-1]
        return slice(j * self.samples, min((j + 1) * self.samples, self.n_samples))

    def chunk_slice(self, key) -> slice:
        j = key[-1]
        return slice(j * self.tasks, min((j + 1) * self.tasks, self.n_chunks))

    def tasks_of(self, key) -> list[tuple[tuple[int, ...], int]]:
        """(grid index, chunk) of every task in shard ``key``."""
        gs = self.grid_slices(key)
        cs = self.chunk_slice(key)
        out = []
        for loc in np.ndindex(*(s.stop - s.start for s in gs)):
            idx = tuple(int(i + s.start) for i, s in zip(loc, gs))
            out.extend((idx, c) for c in range(cs.start, cs.stop))
        return out


def _sample_bytes(spec) -> int:
    geom = spec.geometry()
    n = 1 + _ERROR_BYTES  # status, error
    for name, opts in spec.observables.items():
        variables, _ = registry.get(name).layout(geom, opts)
        for meta in variables.values():
            n += np.dtype(meta.dtype).itemsize * int(np.prod(meta.shape, dtype=np.int64))
    return n


def default_shard_bytes() -> int:
    """:data:`SHARD_BYTES`, or ``$TGSWEEP_SHARD_BYTES`` (tuning and tests: small shards).  A store
    records the value it was created with (root attribute ``shard_bytes``) and keeps it."""
    return int(os.environ.get("TGSWEEP_SHARD_BYTES", SHARD_BYTES))


def shard_plan(spec, shard_bytes: int | None = None) -> ShardPlan:
    """Shard sizes of the store of ``spec``: as many tasks along ``sample`` as fit in
    ``shard_bytes``; when a whole grid point fits, several grid points (last dims first)."""
    shard_bytes = shard_bytes or default_shard_bytes()
    per = _sample_bytes(spec)
    spt = spec.samples_per_task
    k = int(max(1, min(spec.n_chunks, shard_bytes // max(1, per * spt))))
    gshape = tuple(spec.grid_shape)
    block = [1] * len(gshape)
    if k == spec.n_chunks:
        room = shard_bytes // max(1, per * spec.n_samples)
        for d in reversed(range(len(gshape))):
            if room < 2:
                break
            block[d] = int(min(gshape[d], room))
            room //= block[d]
    return ShardPlan(gshape, tuple(block), k, spt, spec.n_samples, spec.n_chunks)


def store_layout(spec, shard_bytes: int | None = None
                 ) -> tuple[dict[str, ArraySpec], dict[str, tuple[tuple, np.ndarray, dict]]]:
    """Arrays and coordinates of the store of ``spec`` (shards of ``shard_bytes``).

    Returns (arrays: name -> ArraySpec, coords: name -> (dims, values, attrs)).
    """
    gdims = tuple(spec.dims)
    gshape = spec.grid_shape
    spt = spec.samples_per_task
    plan = shard_plan(spec, shard_bytes)
    gblock = plan.grid_block
    arrays: dict[str, ArraySpec] = {}
    coords: dict[str, tuple] = {}
    geom = spec.geometry()
    for name, opts in spec.observables.items():
        variables, ocoords = registry.get(name).layout(geom, opts)
        for var, meta in variables.items():
            arrays[var] = ArraySpec(gdims + ("sample",) + meta.dims,
                                    gshape + (spec.n_samples,) + meta.shape,
                                    gblock + (plan.samples,) + meta.shape, meta.dtype, meta.fill,
                                    {**unit_attrs(meta.dimension, geom["kind"]),
                                     "long_name": meta.long_name, "observable": name})
        for dim, c in ocoords.items():
            coords[dim] = ((c.dim or dim,), np.asarray(c.values),
                           {**unit_attrs(c.dimension, geom["kind"]), "long_name": c.long_name})
    arrays["status"] = ArraySpec(gdims + ("sample",), gshape + (spec.n_samples,),
                                 gblock + (plan.samples,), "int8", 0,
                                 {"units": "1", "long_name": "per-sample status",
                                  "flag_meanings": _STATUS_DOC})
    arrays["error"] = ArraySpec(gdims + ("sample",), gshape + (spec.n_samples,),
                                gblock + (plan.samples,), f"<U{ERROR_WIDTH}", "",
                                {"units": "1", "long_name": "per-sample error text"})
    arrays["done"] = ArraySpec(gdims + ("chunk",), gshape + (spec.n_chunks,),
                               gblock + (plan.tasks,), "int8", 0,
                               {"units": "1", "long_name": "task (grid point, sample chunk) "
                                "stored (1) or not (0)"})
    coords["sample"] = (("sample",), np.arange(spec.n_samples),
                        {"units": "1", "long_name": "disorder sample index s"})
    coords["chunk"] = (("chunk",), np.arange(spec.n_chunks),
                       {"units": "1", "long_name": f"sample chunk ({spt} samples per task)"})
    for d in gdims:
        for key, values in spec.axes[d].items():
            cname = key.replace(".", "_")
            coords[cname] = ((d,), np.asarray(values),
                             {**unit_attrs(grid_dimension(key), geom["kind"]),
                              "long_name": f"grid parameter {key}"})
    return arrays, coords


def file_count(spec, shard_bytes: int | None = None) -> int:
    """Files of a finished store of ``spec`` without its summary group (module docstring)."""
    arrays, coords = store_layout(spec, shard_bytes)
    plan = shard_plan(spec, shard_bytes)
    return (len(arrays)) * plan.n_shards + len(arrays) + len(coords) * 2 + 1


def effective_spec(spec) -> dict:
    """The spec as it applies: ``spec.raw`` without the base scalars that a grid axis overrides
    at every point (``[disorder] W = 1`` with ``[grid] "disorder.W" = [...]``)."""
    raw = copy.deepcopy(spec.raw)
    for axis in spec.axes.values():
        for key in axis:
            sec, name = key.split(".", 1)
            if isinstance(raw.get(sec), dict):
                raw[sec].pop(name, None)
    return raw


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "absent"


def provenance(spec, extra: dict | None = None) -> dict:
    """Root attributes: the effective spec, versions, git commit, host, seed, times."""
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    attrs = {
        "title": "tgsweep ensemble sweep",
        "conventions": "hbar^2/2m = 1; boson twist theta, fermion twist theta + pi (N-1)",
        "unit_system": UNIT_SYSTEM[spec.geometry()["kind"]],
        "spec": json.dumps(effective_spec(spec), sort_keys=True),
        "spec_source": spec.source or "",
        "seed": spec.seed,
        "tgsweep_version": __version__,
        **_code_provenance(),
        "host": socket.gethostname(),
        "created": now,
        "updated": now,
    }
    if extra:
        attrs.update(extra)
    return attrs


_CODE: dict = {}
_CODE_LOCK = threading.Lock()


def _code_provenance() -> dict:
    """``git_commit`` and ``versions`` of the code loaded in this process: found once per
    process (two git queries and five package lookups, ~50 ms), see
    :func:`prefetch_provenance`."""
    with _CODE_LOCK:
        if not _CODE:
            _CODE.update({"git_commit": _git_commit(), "versions": json.dumps(
                {k: _version(k) for k in ("numpy", "numba", "dask", "xarray", "zarr")})})
        return dict(_CODE)


def prefetch_provenance() -> threading.Thread:
    """Start finding :func:`_code_provenance` in a background thread (the git queries are
    child processes: they run while this process imports and reads the spec)."""
    t = threading.Thread(target=_code_provenance, name="tgsweep-provenance", daemon=True)
    t.start()
    return t


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:  # both queries at once
        rev = subprocess.Popen(["git", "rev-parse", "HEAD"], cwd=here, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
        dirty = subprocess.Popen(["git", "status", "--porcelain", "--untracked-files=no", "."],
                                 cwd=here.parent, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
        out_rev, _ = rev.communicate(timeout=10)
        out_dirty, _ = dirty.communicate(timeout=10)
        if rev.returncode != 0:
            return "unknown"
        return out_rev.strip() + ("-dirty" if out_dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        for proc in (locals().get("rev"), locals().get("dirty")):
            if proc is not None and proc.poll() is None:
                proc.kill()
        return "unknown"


@dataclass(frozen=True)
class Damage:
    """One problem found by :meth:`ResultStore.verify`: ``array`` (or coordinate), the shard key
    (None: the whole array), what is wrong, and whether ``--resume`` repairs it."""

    array: str
    key: tuple | None
    what: str

    def text(self, plan: ShardPlan | None = None, dims=()) -> str:
        where = "whole array"
        if self.key is not None and plan is not None:
            gs = plan.grid_slices(self.key)
            ss = plan.sample_slice(self.key)
            pts = ", ".join(f"{d}[{s.start}:{s.stop}]" for d, s in zip(dims, gs))
            pts = pts + ", " if pts else ""
            where = f"shard {self.key} ({pts}samples {ss.start}..{ss.stop - 1})"
        elif self.key is not None:
            where = f"shard {self.key}"
        return f"{self.array}: {where}: {self.what}"


def present(x):
    """Elementwise: the value was stored and is usable -- finite for floats, not the fill value
    -1 for integers (:attr:`tgsweep.sweep.registry.Variable.fill`; stored integers are counts
    and flags >= 0)."""
    if x.dtype.kind in "fc":
        return np.isfinite(x)
    if x.dtype.kind in "iu":
        return x != -1
    return np.ones(x.shape, dtype=bool)


class _Shard:
    """Buffer of one shard being filled by :meth:`ResultStore.write_chunk`: the whole shard as
    it will be stored (tasks stored before this buffer was made are read into it once)."""

    __slots__ = ("key", "data", "tasks", "expected", "missing", "nbytes", "since", "used")

    def __init__(self, key, data, expected):
        self.key, self.data, self.expected = key, data, expected
        self.missing = len(expected)
        self.tasks: set = set()
        self.nbytes = sum(a.nbytes for a in data.values())
        self.since = None  # first task not yet written (None: the buffer equals the store)
        self.used = time.monotonic()


class ResultStore(ABC):
    """Store interface (STYLE.md pattern 1): pre-allocated arrays, the single buffered write
    path, verification and streamed summaries.  Back ends give the primitives below."""

    layout: dict[str, ArraySpec]
    #: partially filled shards are written at most this long after their first task arrived
    #: (or :attr:`flush_cost_factor` times the cost of the last partial write, if longer)
    flush_seconds: float = 5.0
    #: a partial write costs as much as a whole one (one file per array): waiting at least this
    #: many times its cost keeps partial writes under 1 % of this process's time, which on a
    #: machine whose cores all compute tasks is taken from the workers
    flush_cost_factor: float = 100.0
    #: buffered bytes above which the oldest partial shards are written
    buffer_bytes: int = 256 << 20

    # ------------------------------------------------------------------ back-end primitives
    @abstractmethod
    def create(self, spec, attrs: dict) -> None:
        """Pre-allocate every array for ``spec`` and set root attributes (atomically)."""

    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def attrs(self) -> dict: ...

    @abstractmethod
    def update_attrs(self, attrs: dict) -> None: ...

    @abstractmethod
    def _write_blocks(self, blocks: list[tuple[str, tuple, np.ndarray]]) -> None:
        """Write each ``(array, region, values)``; regions are whole shards or parts of one."""

    @abstractmethod
    def _read_block(self, name: str, region: tuple) -> np.ndarray:
        """Values of ``name`` in ``region``; raises on a damaged (unreadable) shard."""

    @abstractmethod
    def read(self, name: str) -> np.ndarray:
        """The whole array ``name`` (tests and small stores)."""

    @abstractmethod
    def to_dataset(self):
        """xarray Dataset of the raw samples (lazy where possible)."""

    @abstractmethod
    def write_summary(self, summary) -> None: ...

    def _shard_present(self, name: str, key: tuple) -> bool:
        """Whether shard ``key`` of ``name`` exists (back ends with files override)."""
        return True

    def _array_problem(self, name: str, spec_: ArraySpec) -> str:
        """'' if array ``name`` exists with the layout's metadata, else what is wrong."""
        return ""

    def _coord_values(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def _repair_arrays(self, spec, names: list[str]) -> None:
        """Re-create the arrays / coordinates ``names`` (empty) from the layout."""
        raise NotImplementedError

    def _drop_shards(self, keys: dict[str, list]) -> None:
        """Delete damaged shards (so that rewriting them never reads them)."""

    # ------------------------------------------------------------------ shared logic
    def spec_json(self) -> str:
        return self.attrs()["spec"]

    def spec_matches(self, spec) -> bool:
        """Whether the stored spec is ``spec`` (the ``[output]`` table aside).  Stores written
        before specs were stored in effective form match on the raw spec."""
        def strip(d):
            d = dict(d)
            d.pop("output", None)
            return d

        stored = strip(json.loads(self.spec_json()))
        return stored in (strip(effective_spec(spec)), strip(spec.raw))

    def shard_bytes(self) -> int:
        """Shard size of this store: recorded at creation, else the default."""
        if self.exists():
            sb = self.attrs().get("shard_bytes")
            if sb:
                return int(sb)
        return default_shard_bytes()

    def layout_of(self, spec):
        """(arrays, coords) of ``spec`` with this store's shards."""
        return store_layout(spec, self.shard_bytes())

    def _plan(self, spec) -> ShardPlan:
        plan = self.__dict__.get("_plan_cache")
        if plan is None or plan[0] is not spec:
            sb = self.shard_bytes()
            self._plan_cache = (spec, shard_plan(spec, sb))
            self.layout = store_layout(spec, sb)[0]
            if plan is not None:  # another spec object: read the flags afresh
                self.__dict__.pop("_done_cache", None)
        return self._plan_cache[1]

    def done(self) -> np.ndarray:
        """(n_points, n_chunks) bool array of stored tasks.  The flags as read are kept (this
        process is the only writer, and keeps them up to date as it writes shards), so the
        first shard buffer of the run that asked does not read them again."""
        d = self.read("done")
        self._done_cache = d
        return d.reshape(-1, d.shape[-1]).astype(bool)

    def write_chunk(self, spec, result: ChunkResult) -> None:
        """Buffer one task's arrays; write its shard when the shard is complete (module
        docstring).  The one write path of every store."""
        plan = self._plan(spec)
        bufs = self.__dict__.setdefault("_buffers", {})
        index = spec.point_index(result.p)
        key = plan.key_of(index, result.c)
        sh = bufs.get(key)
        if sh is None:
            sh = bufs[key] = self._new_shard(spec, plan, key)
            self._accumulator(spec, plan)  # before the first shard is written
        gs = plan.grid_slices(key)
        s0 = result.s0 - plan.sample_slice(key).start
        loc = tuple(i - s.start for i, s in zip(index, gs)) + (slice(s0, s0 + result.status.size),)
        for var, arr in result.data.items():
            sh.data[var][loc] = arr
        sh.data["status"][loc] = result.status
        sh.data["error"][loc] = [str(e) for e in result.errors]
        sh.data["done"][loc[:-1] + (result.c - plan.chunk_slice(key).start,)] = 1
        task = (index, result.c)
        if task in sh.expected and task not in sh.tasks:
            sh.missing -= 1
        sh.tasks.add(task)
        sh.used = time.monotonic()
        if sh.since is None:
            sh.since = sh.used
        if sh.missing <= 0:
            self._flush_shards(spec, plan, [key])
        else:
            self._flush_due(spec, plan)

    def _new_shard(self, spec, plan, key) -> _Shard:
        gs = plan.grid_slices(key)
        glen = tuple(s.stop - s.start for s in gs)
        ss = plan.sample_slice(key)
        n = ss.stop - ss.start
        done = self.__dict__.get("_done_cache")
        if done is None:
            done = self._done_cache = self.read("done")
        dblock = np.array(done[gs + (plan.chunk_slice(key),)], dtype=np.int8)
        data = {}
        if dblock.any():  # tasks of an earlier run (or an evicted buffer): read them once
            names = [n for n in self.layout if n != "done"]
            data = self._read_shard(spec, plan, key, names)
            data["error"] = np.asarray(data["error"], dtype=object)
        else:
            for name, a in self.layout.items():
                if name == "error":
                    data[name] = np.full(glen + (n,), "", dtype=object)
                elif name != "done":
                    data[name] = np.full(glen + (n,) + a.shape[len(glen) + 1:], a.fill,
                                         dtype=a.dtype)
        data["done"] = dblock
        missing = {t for t in plan.tasks_of(key)
                   if not dblock[tuple(i - s.start for i, s in zip(t[0], gs))
                                 + (t[1] - plan.chunk_slice(key).start,)]}
        return _Shard(key, data, missing)

    def _flush_due(self, spec, plan) -> None:
        bufs = self._buffers
        now = time.monotonic()
        wait = max(self.flush_seconds,
                   self.flush_cost_factor * self.__dict__.get("_flush_cost", 0.0))
        due = [k for k, sh in bufs.items() if sh.since is not None and now - sh.since >= wait]
        if due:
            self._flush_shards(spec, plan, due, keep=True)
        total = sum(sh.nbytes for sh in bufs.values())
        if total > self.buffer_bytes:  # evict the least recently used buffers
            evict = []
            for k, sh in sorted(bufs.items(), key=lambda kv: kv[1].used):
                evict.append(k)
                total -= sh.nbytes
                if total <= self.buffer_bytes:
                    break
            self._flush_shards(spec, plan, evict)

    def flush(self, spec=None) -> None:
        """Write every buffered shard not yet written as it stands, and drop the buffers."""
        bufs = self.__dict__.get("_buffers")
        if bufs:
            self._flush_shards(spec, self._plan_cache[1], list(bufs))

    def close(self) -> None:
        self.flush()

    def _flush_shards(self, spec, plan, keys, keep: bool = False) -> None:
        """Write the buffers ``keys`` whole (those holding unwritten tasks); drop them unless
        ``keep`` (a partial write: the buffer keeps filling)."""
        for key in keys:
            sh = self._buffers[key] if keep else self._buffers.pop(key)
            if sh.since is None:
                continue
            t0 = time.perf_counter()
            final = bool(sh.data["done"].all())
            gs = plan.grid_slices(key)
            region = gs + (plan.sample_slice(key),)
            blocks = [(n, region, sh.data[n]) for n in self.layout if n not in ("status", "done")]
            blocks.append(("status", region, sh.data["status"]))
            fault_point("shard_data_writing")
            self._write_blocks(blocks)
            fault_point("shard_data_written")
            self._write_blocks([("done", gs + (plan.chunk_slice(key),), sh.data["done"])])
            sh.since = None
            done = self.__dict__.get("_done_cache")
            if done is not None:
                done[gs + (plan.chunk_slice(key),)] = sh.data["done"]
            fault_point("shard_written")
            acc = self.__dict__.get("_summary_acc")
            if acc is not None and final:  # final: count it now, from memory
                t1 = time.perf_counter()
                acc.offer(key, shard_moments(sh.data, acc.variables, acc.ng))
                acc.seconds += time.perf_counter() - t1
            if not final:
                self._flush_cost = time.perf_counter() - t0

    # ------------------------------------------------------------------ verification
    def verify(self, spec, progress=None) -> list[Damage]:
        """Read every shard of every array and every coordinate; list what is missing, corrupt
        (checksum, truncation) or inconsistent (a task flagged done whose status is pending)."""
        sb = self.shard_bytes()
        plan = shard_plan(spec, sb)
        layout, coords = store_layout(spec, sb)
        damage: list[Damage] = []
        bad_arrays = set()
        for name, a in layout.items():
            why = self._array_problem(name, a)
            if why:
                damage.append(Damage(name, None, why))
                bad_arrays.add(name)
        for name, (dims, values, _) in coords.items():
            try:
                got = self._coord_values(name)
                ok = got.shape == values.shape and (
                    [str(v) for v in got.ravel()] == [str(v) for v in values.ravel()]
                    if values.dtype.kind in "OUS" else np.array_equal(got, values))
            except Exception as exc:  # noqa: BLE001 - any read failure is damage
                ok, got = False, exc
            if not ok:
                damage.append(Damage(name, None, "coordinate missing or wrong"
                                     + (f" ({_short(got)})" if isinstance(got, Exception) else "")))
        for key in plan.keys():
            gs = plan.grid_slices(key)
            dreg = gs + (plan.chunk_slice(key),)
            if "done" in bad_arrays:
                continue
            try:
                dblock = np.asarray(self._read_block("done", dreg))
            except Exception as exc:  # noqa: BLE001
                damage.append(Damage("done", key, f"unreadable ({_short(exc)})"))
                continue
            if not self._shard_present("done", key) and (
                    dblock.any() or self._shard_present("status", key)):
                damage.append(Damage("done", key, "missing"))
                continue
            if not dblock.any():
                continue
            region = gs + (plan.sample_slice(key),)
            for name in layout:
                if name == "done" or name in bad_arrays:
                    continue
                if not self._shard_present(name, key):
                    damage.append(Damage(name, key, "missing"))
                    continue
                try:
                    block = np.asarray(self._read_block(name, region))
                except Exception as exc:  # noqa: BLE001
                    damage.append(Damage(name, key, f"corrupt ({_short(exc)})"))
                    continue
                if name == "status":
                    flagged = np.repeat(dblock.astype(bool), plan.samples_per_task,
                                        axis=-1)[..., :block.shape[-1]]
                    if (flagged & (block == STATUS["pending"])).any():
                        damage.append(Damage(name, key, "task flagged done but its samples are "
                                             "pending"))
            if progress is not None:
                progress()
        return damage

    def repair(self, spec, damage: list[Damage]) -> int:
        """Make the damage recomputable: re-create damaged arrays and coordinates, delete damaged
        shards and clear their ``done`` flags.  Returns the number of tasks to recompute."""
        sb = self.shard_bytes()
        plan = shard_plan(spec, sb)
        layout, coords = store_layout(spec, sb)
        whole = sorted({d.array for d in damage if d.key is None})
        if whole:
            self._repair_arrays(spec, whole)
        keys = sorted({d.key for d in damage if d.key is not None})
        if any(d.key is None and d.array in layout for d in damage):
            keys = list(plan.keys())  # a whole array lost: every task again
        if not keys:
            return 0
        self._drop_shards({n: keys for n in layout})
        n = 0
        blocks = []
        for key in keys:
            gs = plan.grid_slices(key)
            cs = plan.chunk_slice(key)
            shape = tuple(s.stop - s.start for s in gs) + (cs.stop - cs.start,)
            blocks.append(("done", gs + (cs,), np.zeros(shape, dtype=np.int8)))
            n += int(np.prod(shape))
        self._write_blocks(blocks)
        self.__dict__.pop("_done_cache", None)
        self.__dict__.pop("_summary_acc", None)
        return n

    # ------------------------------------------------------------------ summaries
    def _summary_variables(self, spec, layout=None) -> list[str]:
        layout = layout or self.layout_of(spec)[0]
        return [n for n in layout if n not in ("status", "error", "done")]

    def _read_shard(self, spec, plan, key, names) -> dict:
        """Arrays ``names`` of shard ``key`` as stored (the region of the shard)."""
        region = plan.grid_slices(key) + (plan.sample_slice(key),)
        return {n: np.asarray(v) for n, v in zip(names, self._read_blocks(names, region))}

    def _read_blocks(self, names, region) -> list:
        """:meth:`_read_block` of several arrays over one region (back ends may read them
        concurrently)."""
        return [self._read_block(n, region) for n in names]

    def _accumulator(self, spec, plan) -> "SummaryAccumulator":
        """The running summary of this run (created at the first shard write: the shards whose
        tasks were all done before are read at the end, in their turn)."""
        acc = self.__dict__.get("_summary_acc")
        if acc is None or acc.plan != plan:
            done = self.__dict__.get("_done_cache")
            if done is None:
                done = self.read("done")
            before = {k for k in plan.keys()
                      if np.asarray(done[plan.grid_slices(k) + (plan.chunk_slice(k),)]).all()}
            variables = self._summary_variables(spec)
            names = ["status", *variables]
            ng = len(spec.dims)
            acc = self._summary_acc = SummaryAccumulator(
                plan, variables, ng, before,
                reader=lambda key: shard_moments(self._read_shard(spec, plan, key, names),
                                                 variables, ng))
        return acc

    def summary_table(self, spec) -> "SummaryTable":
        """Mean, standard error and per-variable n_valid of every per-sample variable
        (:func:`summarize` gives the rules).

        The moments of a shard, (n, mean, M2) per grid point (:func:`shard_moments`), are taken
        when the shard is written in its final form (all its tasks done), from the very arrays
        written, and merged shard by shard along ``sample`` in the fixed order of the shards
        (Chan et al. 1983, :mod:`tgsweep.sweep.stats`), whatever order tasks arrived in; shards
        not written by this process (an earlier run, a fresh store object) are read back, one
        at a time.  So the summary is a function of the stored arrays alone: a resumed run gives
        the same bits as an uninterrupted one, and no end-of-run pass over the data is needed
        when this process wrote every shard."""
        sb = self.shard_bytes()
        plan = shard_plan(spec, sb)
        layout, coords = store_layout(spec, sb)
        variables = self._summary_variables(spec, layout)
        acc = self.__dict__.get("_summary_acc")
        if acc is None or acc.plan != plan or acc.stale:
            acc = SummaryAccumulator(plan, variables, len(spec.dims), set(plan.keys()))
        names = ["status", *variables]
        moments = acc.finish(lambda key: shard_moments(self._read_shard(spec, plan, key, names),
                                                       variables, len(spec.dims)))
        root = self.attrs()
        done = self.done()
        attrs = {"long_name": _SUMMARY_DOC,
                 "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                 "tasks_done": f"{int(done.sum())}/{done.size}",
                 **{k: root[k] for k in ("store_id", "spec", "seed", "tgsweep_version",
                                         "git_commit", "versions", "host") if k in root}}
        return summary_from_moments(spec, plan, layout, coords, moments, attrs)

    def summary_dataset(self, spec):
        """:meth:`summary_table` as an xarray Dataset."""
        return self.summary_table(spec).to_dataset()


def shard_moments(block: dict, variables, ng: int) -> dict:
    """Per grid point of one shard ``block`` (arrays by name, ``status`` included, sample axis
    ``ng``): ``{"": n_ok, var: (n, mean, M2)}`` over the valid samples of each variable (status
    ok and every value :func:`present`)."""
    ok = np.asarray(block["status"]) == STATUS["ok"]
    out = {"": ok.sum(axis=-1)}
    for v in variables:
        x = block[v]
        extra = tuple(range(ng + 1, x.ndim))
        valid = ok & present(x).all(axis=extra)
        out[v] = stats.moments(x, valid.reshape(valid.shape + (1,) * len(extra)), axis=ng)
    return out


class SummaryAccumulator:
    """Running summary of a store: per-shard moments merged in shard order.

    For each block of grid points, the moments of sample-block 0, 1, 2, ... are merged in that
    order as soon as each is :meth:`offer`-ed (a shard arriving early waits in ``pending``);
    the shards in ``before`` (complete before this run, so never offered) are read by
    :meth:`finish`, in their turn.  A shard offered twice, or after its turn, makes the
    accumulator ``stale`` (then :meth:`ResultStore.summary_table` reads everything)."""

    #: pending moments (bytes) above which waiting ``before`` shards are read right away
    pending_bytes = 64 << 20

    def __init__(self, plan: ShardPlan, variables, ng: int, before: set, reader=None):
        self.plan, self.variables, self.ng = plan, list(variables), ng
        self.before = set(before)
        self.nsb = plan.counts[-1]
        self.next = {gk: 0 for gk in sorted({k[:-1] for k in plan.keys()})}
        self.acc: dict = {}
        self.pending: dict = {}
        self._pending_nbytes = 0
        self.stale = False
        self.reader = reader
        self.seconds = 0.0  #: spent taking and merging shard moments as shards were written

    @staticmethod
    def _nbytes(m) -> int:
        return sum(sum(a.nbytes for a in v) if isinstance(v, tuple) else v.nbytes
                   for v in m.values())

    def _merge(self, gk, m) -> None:
        a = self.acc.get(gk)
        if a is None:
            self.acc[gk] = m
        else:
            self.acc[gk] = {k: (a[k] + m[k] if k == "" else stats.merge(a[k], m[k])) for k in m}
        self.next[gk] += 1

    def offer(self, key, moments) -> None:
        """The moments of shard ``key`` in its final form (all its tasks stored)."""
        if self.stale:
            return
        gk, j = tuple(key[:-1]), key[-1]
        if j < self.next[gk] or key in self.pending:
            self.stale = True  # rewritten after being counted: only a full read is right
            self.acc, self.pending = {}, {}
            return
        self.before.discard(key)
        self.pending[key] = moments
        self._pending_nbytes += self._nbytes(moments)
        self._advance(gk)
        if self._pending_nbytes > self.pending_bytes and self.reader is not None:
            for g in list(self.next):
                self._advance(g, self.reader)

    def _advance(self, gk, reader=None) -> None:
        while self.next[gk] < self.nsb:
            key = gk + (self.next[gk],)
            m = self.pending.pop(key, None)
            if m is not None:
                self._pending_nbytes -= self._nbytes(m)
            elif reader is not None and key in self.before:
                self.before.discard(key)
                m = reader(key)
            else:
                return
            self._merge(gk, m)

    def finish(self, reader) -> dict:
        """``{grid block key: merged moments}`` once every shard is counted; the shards not
        offered are read with ``reader(key) -> moments``."""
        for gk in self.next:
            self.before.update(gk + (j,) for j in range(self.next[gk], self.nsb)
                               if gk + (j,) not in self.pending)
            self._advance(gk, reader)
        return self.acc


@dataclass
class SummaryTable:
    """A summary group, independent of the file format and of xarray: ``variables`` and
    ``coords`` map a name to (dims, values, attrs); ``attrs`` are the group's attributes."""

    variables: dict
    coords: dict
    attrs: dict

    def to_dataset(self):
        import xarray as xr

        data = {n: xr.Variable(d, v, a) for n, (d, v, a) in self.variables.items()}
        cvars = {n: xr.Variable(d, v, a) for n, (d, v, a) in self.coords.items()}
        return xr.Dataset(data, coords=cvars, attrs=dict(self.attrs))

    @classmethod
    def from_dataset(cls, ds) -> "SummaryTable":
        return cls({n: (v.dims, np.asarray(v.values), dict(v.attrs))
                    for n, v in ds.data_vars.items()},
                   {n: (v.dims, np.asarray(v.values), dict(v.attrs))
                    for n, v in ds.coords.items()}, dict(ds.attrs))


def summary_from_moments(spec, plan, layout, coords, moments, attrs) -> SummaryTable:
    """The summary group of ``spec`` from merged moments per grid block
    (:meth:`SummaryAccumulator.finish`)."""
    gdims = tuple(spec.dims)
    gshape = tuple(spec.grid_shape)
    ng = len(gdims)
    variables = [n for n in layout if n not in ("status", "error", "done")]
    n_ok = np.zeros(gshape, dtype=np.int64)
    res = {v: [np.full(gshape + layout[v].shape[ng + 1:], np.nan) for _ in range(2)]
           + [np.zeros(gshape, dtype=np.int64)] for v in variables}
    for gk, m in moments.items():
        gs = plan.grid_slices(gk + (0,))
        n_ok[gs] = m[""]
        for v in variables:
            n, mean, m2 = m[v]
            extra = mean.ndim - ng
            res[v][0][gs], res[v][1][gs] = stats.finish(n, mean, m2)
            res[v][2][gs] = n[(...,) + (0,) * extra] if extra else n
    out = {"n_valid": (gdims, n_ok, {"units": "1", "long_name": "samples with status 1 (ok)"})}
    for v in variables:
        a = layout[v]
        odims = a.dims[ng + 1:]
        units = {k: a.attrs[k] for k in ("units", "natural_units") if k in a.attrs}
        ln = a.attrs.get("long_name", v)
        out[f"{v}_mean"] = (gdims + odims, res[v][0], {**units, "long_name": "mean of " + ln})
        out[f"{v}_stderr"] = (gdims + odims, res[v][1],
                              {**units, "long_name": "standard error of the mean of " + ln})
        out[f"{v}_n_valid"] = (gdims, res[v][2], {
            "units": "1", "long_name": f"samples used for {v} (status 1, all values finite)"})
    used = set()
    for dims, _, _ in out.values():
        used.update(dims)
    cvars = {n: (tuple(d), np.asarray(val), dict(at)) for n, (d, val, at) in coords.items()
             if set(d) <= used}
    return SummaryTable(out, cvars, attrs)


_SUMMARY_DOC = ("mean and standard error over valid samples (status 1 and every value of the "
                "variable finite); n_valid per variable")


def _short(exc) -> str:
    return (type(exc).__name__ + ": " + str(exc).splitlines()[0] if str(exc) else
            type(exc).__name__)[:160]


class MemoryStore(ResultStore):
    """In-memory store (serial runs and tests): same write path, verification and summaries as
    the Zarr store, NumPy arrays as back end."""

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}
        self._coords: dict = {}
        self._attrs: dict = {}
        self.summary = None
        self.layout = {}

    def create(self, spec, attrs):
        attrs = {**attrs, "shard_bytes": attrs.get("shard_bytes") or default_shard_bytes()}
        self.layout, self._coords = store_layout(spec, attrs["shard_bytes"])
        self._arrays = {n: np.full(a.shape, a.fill, dtype=object if n == "error" else a.dtype)
                        for n, a in self.layout.items()}
        self._attrs = dict(attrs)
        for k in ("_done_cache", "_buffers", "_plan_cache", "_summary_acc"):
            self.__dict__.pop(k, None)

    def exists(self):
        return bool(self._arrays)

    def attrs(self):
        return dict(self._attrs)

    def update_attrs(self, attrs):
        self._attrs.update(attrs)

    def _write_blocks(self, blocks):
        for name, region, values in blocks:
            self._arrays[name][region] = values

    def _read_block(self, name, region):
        return self._arrays[name][region].copy()

    def _coord_values(self, name):
        return np.asarray(self._coords[name][1])

    def read(self, name):
        return self._arrays[name].copy()

    def to_dataset(self):
        import xarray as xr

        data = {n: xr.Variable(a.dims, self._arrays[n], a.attrs) for n, a in self.layout.items()}
        coords = {n: xr.Variable(d, v, at) for n, (d, v, at) in self._coords.items()}
        return xr.Dataset(data, coords=coords, attrs=self._attrs)

    def write_summary(self, summary):
        """Keep the summary (a :class:`SummaryTable` or an xarray Dataset) as ``summary``."""
        self.summary = summary


def summarize(ds):
    """Mean and standard error over ``sample`` of every per-sample variable of a dataset (e.g. a
    selection of a store).  A sample counts for a variable only if its status is 1 (ok) and every
    value of the variable is :func:`present` (a fill value never enters); ``VAR_n_valid`` is the
    number of samples used for VAR, ``n_valid`` the number with status 1.  Standard error = std(ddof=1) /
    sqrt(n) (:mod:`tgsweep.sweep.stats`; NaN when n < 2)."""
    import xarray as xr

    ok = ds["status"] == STATUS["ok"]
    out = {"n_valid": ok.sum("sample").assign_attrs(units="1",
                                                   long_name="samples with status 1 (ok)")}
    for name, var in ds.data_vars.items():
        if name in ("status", "error", "done") or "sample" not in var.dims:
            continue
        odims = [d for d in var.dims if d not in ds["status"].dims]
        pres = present(var)
        valid = ok & pres.all(odims) if odims else ok & pres
        v = var.astype(np.float64)
        mean, se = stats.mean_se(v.where(valid), "sample")
        units = {k: var.attrs[k] for k in ("units", "natural_units") if k in var.attrs}
        ln = var.attrs.get("long_name", name)
        out[f"{name}_mean"] = mean.assign_attrs(**units, long_name="mean of " + ln)
        out[f"{name}_stderr"] = se.assign_attrs(**units,
                                                long_name="standard error of the mean of " + ln)
        out[f"{name}_n_valid"] = valid.sum("sample").assign_attrs(
            units="1", long_name=f"samples used for {name} (status 1, all values finite)")
    res = xr.Dataset(out)
    res = res.drop_vars([c for c in res.coords if "sample" in res[c].dims or c == "chunk"],
                        errors="ignore")
    res.attrs = {"long_name": _SUMMARY_DOC}
    return res
