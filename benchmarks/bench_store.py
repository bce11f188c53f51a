"""Store benchmark: files, status time, client memory and per-task store overhead of the sharded
layout, against the one-file-per-task layout (shards of one task, ``TGSWEEP_SHARD_BYTES=1``)
measured in the same run.

Run with one BLAS/numba thread:
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
        .venv/bin/python benchmarks/bench_store.py

Spec: a tiny lattice point (M = 8, Anderson W = 2, mu = 0; energy, n_particles, density,
lambda0, occupations(2)), 10 samples per task.

1. A real 10^4-sample store: 1000 tasks computed (compute_chunk), then written through the
   production path (``ZarrStore.write_chunk``, single writer) into the sharded layout and into
   the per-task baseline; files (counted vs the formula of tgsweep.sweep.storage), per-task
   write overhead (median over 5 repetitions of the amortised cost, compared with a 50 ms task),
   ``status`` (the report the CLI prints, in-process; and the whole CLI call, whose wall time is
   mostly interpreter and import start-up, printed alone as ``tgsweep --help``) and
   ``status --verify`` times.
2. 10^5 and 10^6 samples: the same computed task results replicated to every chunk (the store
   does not look at the values), written, counted and timed; the client's peak Python memory
   (tracemalloc) while writing 10^4, 10^5 and 10^6 samples shows that it stays flat.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

for _k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_k, "1")


def tiny(n_samples, spt=10):
    from tgsweep.sweep import parse_spec

    return parse_spec({"model": {"kind": "lattice", "sites": 8},
                       "disorder": {"kind": "anderson", "W": 2.0}, "state": {"mu": 0.0},
                       "sampling": {"n_samples": n_samples, "seed": 1, "samples_per_task": spt},
                       "observables": {"energy": {}, "density": {},
                                       "condensate": {"n_modes": 2}}})


def n_files(path) -> int:
    return sum(len(f) for _, _, f in os.walk(path))


def write_store(path, spec, results, shard_bytes=None):
    """Create a store and write ``results`` (ChunkResults) through write_chunk; seconds."""
    from tgsweep.sweep.store import ZarrStore, provenance

    shutil.rmtree(path, ignore_errors=True)
    st = ZarrStore(path)
    attrs = provenance(spec)
    if shard_bytes:
        attrs["shard_bytes"] = shard_bytes
    st.create(spec, attrs)
    t0 = time.perf_counter()
    for r in results:
        st.write_chunk(spec, r)
    st.flush()
    return time.perf_counter() - t0, st


def replicate(spec, base):
    """ChunkResults for every chunk of ``spec`` sharing the arrays of ``base`` (cyclically)."""
    from tgsweep.sweep.tasks import ChunkResult

    for c in range(spec.n_chunks):
        b = base[c % len(base)]
        yield ChunkResult(0, c, c * spec.samples_per_task, b.data, b.status, b.errors)


def cli_seconds(*args) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tgsweep.cli", *map(str, args)], check=False,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(Path(__file__)
                                                                           .parents[1])})
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10_000, help="real (computed) samples")
    ap.add_argument("--big", type=int, nargs="*", default=[100_000, 1_000_000])
    a = ap.parse_args()
    from tgsweep.sweep.report import StoreView, status_text, verify_text
    from tgsweep.sweep.store import SHARD_BYTES, file_count, shard_plan
    from tgsweep.sweep.tasks import compute_chunk

    tmp = Path(tempfile.mkdtemp(prefix="bench_store_"))
    try:
        spec = tiny(a.samples)
        compute_chunk(spec, 0, 0)  # compile
        t0 = time.perf_counter()
        results = [compute_chunk(spec, 0, c) for c in range(spec.n_chunks)]
        t_compute = (time.perf_counter() - t0) / spec.n_chunks
        print(f"== real store: {a.samples} samples, {spec.n_chunks} tasks of "
              f"{spec.samples_per_task} (compute {1e3 * t_compute:.1f} ms per task)")
        rows = {}
        for label, sb in (("sharded", None), ("per-task baseline", 1)):
            reps = []
            for _ in range(5):
                sec, st = write_store(tmp / "s.zarr", spec, results, sb)
                reps.append(sec / spec.n_chunks)
            st.write_summary(st.summary_dataset(spec))
            path = tmp / f"{label.split()[0]}.zarr"
            shutil.rmtree(path, ignore_errors=True)
            os.rename(tmp / "s.zarr", path)
            t0 = time.perf_counter()
            status_text(StoreView(path))
            t_status = time.perf_counter() - t0
            t0 = time.perf_counter()
            ok = verify_text(path)[1]
            t_verify = time.perf_counter() - t0
            rows[label] = dict(files=n_files(path), write=statistics.median(reps),
                               status=t_status, verify=t_verify, ok=ok,
                               cli=cli_seconds("status", path), path=path)
        plan = shard_plan(spec)
        print(f"   shard plan: {plan.tasks} tasks x {plan.samples_per_task} samples per shard, "
              f"{plan.n_shards} shard(s) per array; formula A (n_shards + 1) + 2 n_coords + 1 = "
              f"{file_count(spec)} (+ summary group)")
        base = rows["per-task baseline"]
        t_import = cli_seconds("--help")
        for label, r in rows.items():
            print(f"   {label:18s} files {r['files']:6d}  write/task {1e3 * r['write']:.3f} ms "
                  f"({100 * r['write'] / 0.05:.2f} % of a 50 ms task)  status {r['status']:.3f} s"
                  f"  verify {r['verify']:.2f} s ({'clean' if r['ok'] else 'DAMAGED'})  "
                  f"CLI status {r['cli']:.2f} s")
        sh = rows["sharded"]
        print(f"   ratios sharded/baseline: files {sh['files'] / base['files']:.4f}, write/task "
              f"{sh['write'] / base['write']:.3f}, status {sh['status'] / base['status']:.3f}; "
              f"CLI start-up alone (tgsweep --help) {t_import:.2f} s")

        print(f"== replicated results (store cost only; the client buffers at most about one "
              f"shard, SHARD_BYTES = {SHARD_BYTES / 2**20:.0f} MiB, plus per-task bookkeeping)")
        for n in [a.samples] + list(a.big):
            big = tiny(n)
            path = tmp / f"big{n}.zarr"
            tracemalloc.start()
            sec, st = write_store(path, big, replicate(big, results))
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            t0 = time.perf_counter()
            st.write_summary(st.summary_dataset(big))
            t_sum = time.perf_counter() - t0
            t0 = time.perf_counter()
            status_text(StoreView(path))
            t_status = time.perf_counter() - t0
            print(f"   {n:8d} samples: files {n_files(path):5d} (formula {file_count(big)} + "
                  f"summary), write/task {1e6 * sec / big.n_chunks:.0f} us, client peak "
                  f"{peak / 2**20:.1f} MiB, summary {t_sum:.2f} s, status {t_status:.3f} s, "
                  f"CLI status {cli_seconds('status', path):.2f} s")
            shutil.rmtree(path, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
