"""Sweep overhead: LocalCluster(2 workers x 1 thread) vs a serial loop over the same tasks.

Run with one BLAS/numba thread:  NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
    .venv/bin/python benchmarks/bench_sweep.py [--samples 200] [--memory]
Prints samples/s of both, the ratio (goal >= 1.8 = 0.9 x 2 workers), the per-task overhead
(serial run_sweep into Zarr vs bare compute_chunk), and with --memory the client's peak RSS
for 100 vs 1000 samples (measured in fresh subprocesses).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

for _k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_k, "1")


def spec(n_samples, spt=4, sites=64):
    from tgsweep.sweep import parse_spec

    return parse_spec({"model": {"kind": "lattice", "sites": sites},
                       "disorder": {"kind": "anderson", "W": 2.0}, "state": {"mu": 0.0},
                       "sampling": {"n_samples": n_samples, "seed": 1, "samples_per_task": spt},
                       "observables": {"energy": {}, "density": {}, "condensate": {}}})


def _peak(n):
    code = (f"import resource, sys; sys.path.insert(0, {os.path.dirname(__file__)!r});"
            "import bench_sweep as b, tempfile; from tgsweep.sweep import run_sweep;"
            "d = tempfile.mkdtemp();"
            f"run_sweep(b.spec({n}, 10, 16), d + '/m.zarr', workers=2, progress=False, summary=False);"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--sites", type=int, default=64)
    ap.add_argument("--memory", action="store_true")
    a = ap.parse_args()
    from tgsweep.sweep import run_sweep
    from tgsweep.sweep.tasks import compute_chunk

    s = spec(a.samples, sites=a.sites)
    compute_chunk(s, 0, 0)  # compile / load caches
    t0 = time.perf_counter()
    for p, c in s.tasks():
        compute_chunk(s, p, c)
    t_bare = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        run_sweep(s, d + "/serial.zarr", serial=True, progress=False, summary=False)
        t_serial = time.perf_counter() - t0
        rep = run_sweep(s, d + "/dask.zarr", workers=2, progress=False, summary=False)
        t_dask = rep.seconds  # excludes cluster start-up
    n_tasks = len(s.tasks())
    print(f"tasks {n_tasks} x {s.samples_per_task} samples, lattice M={a.sites}")
    print(f"bare compute loop : {a.samples / t_bare:8.1f} samples/s")
    print(f"serial + Zarr     : {a.samples / t_serial:8.1f} samples/s  "
          f"(store overhead {1e3 * (t_serial - t_bare) / n_tasks:.2f} ms/task)")
    print(f"LocalCluster 2x1  : {a.samples / t_dask:8.1f} samples/s  (excl. cluster start-up)")
    print(f"ratio dask/serial : {t_serial / t_dask:.2f}  (goal >= 1.8)")
    print(f"dask per-task overhead vs ideal 2x: {1e3 * (t_dask - t_serial / 2) / (n_tasks / 2):.2f}"
          " ms/task/worker")
    if a.memory:
        print(f"client peak RSS: 100 samples {_peak(100):.0f} MiB, "
              f"1000 samples {_peak(1000):.0f} MiB")


if __name__ == "__main__":
    main()
