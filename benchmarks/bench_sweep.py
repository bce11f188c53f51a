"""Sweep overhead: LocalCluster(2 workers x 1 thread) vs a serial loop over the same tasks.

Run with one BLAS/numba thread:  NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
    .venv/bin/python benchmarks/bench_sweep.py [--samples 40] [--memory]

The "small point" is a continuum ring (L = 32, 8 points per unit, M = 256) with speckle
disorder at mu = 20 (N ~ 45) and every registered observable, so that the physics of one task
(2 samples) takes ~0.3 s or more and a 10 % overhead goal is meaningful.  Printed:

* per-task medians of the bare physics (``compute_chunk``) and of the store write
  (``ZarrStore.write_chunk``), in ms;
* samples/s of ``run_sweep`` serial (into Zarr) and on a *warmed* LocalCluster(2 x 1) (every
  worker has imported tgsweep and loaded the numba caches; cluster start-up excluded), their
  ratio (goal >= 1.8 = 0.9 x 2 workers);
* from the Dask task stream, per-task medians of the worker-side task time and of the idle gap
  between consecutive tasks on a worker (dispatch overhead);
* with --memory, the client's peak RSS for 100 vs 1000 samples of a tiny lattice point
  (measured in fresh subprocesses).
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


def spec(n_samples, spt=2, ppu=8):
    """The benchmark's small point: continuum, every observable."""
    from tgsweep.sweep import parse_spec

    return parse_spec({
        "model": {"kind": "continuum", "length": 32, "points_per_unit": ppu},
        "disorder": {"kind": "speckle", "strength": 4.0, "corr_length": 0.5},
        "state": {"mu": 20.0},
        "sampling": {"n_samples": n_samples, "seed": 1, "samples_per_task": spt},
        "observables": {"energy": {}, "particle_numbers": {}, "density": {},
                        "condensate": {}, "hs_profile": {"sigmas": [0.5, 0.8]},
                        "momentum_distribution": {}, "lyapunov": {"energies": [5.0, 20.0]},
                        "stiffness": {"thetas": [0.5, 2.0]},
                        "ecl_profile": {"windows": [[0.0, 10.0], [10.0, 20.0]]},
                        "dynamics": {"times": {"t_max": 2.0, "n_times": 10}}}})


def tiny_spec(n_samples, spt=10, sites=16):
    from tgsweep.sweep import parse_spec

    return parse_spec({"model": {"kind": "lattice", "sites": sites},
                       "disorder": {"kind": "anderson", "W": 2.0}, "state": {"mu": 0.0},
                       "sampling": {"n_samples": n_samples, "seed": 1, "samples_per_task": spt},
                       "observables": {"energy": {}, "density": {}, "condensate": {}}})


def _peak(n):
    code = (f"import resource, sys; sys.path.insert(0, {os.path.dirname(__file__)!r});"
            "import bench_sweep as b, tempfile; from tgsweep.sweep import run_sweep;"
            "d = tempfile.mkdtemp();"
            f"run_sweep(b.tiny_spec({n}), d + '/m.zarr', workers=2, progress=False, summary=False);"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def _warm(spec_json):
    from tgsweep.sweep import parse_spec
    from tgsweep.sweep.tasks import compute_chunk
    import json

    compute_chunk(parse_spec(json.loads(spec_json)), 0, 0)
    return True


def _cpu_share(spec_json):
    """(wall, CPU) seconds of one task on this process: CPU/wall < 1 means the process was not
    getting a whole core (other load on the machine)."""
    import json

    from tgsweep.sweep import parse_spec
    from tgsweep.sweep.tasks import compute_chunk

    w0, c0 = time.perf_counter(), time.process_time()
    compute_chunk(parse_spec(json.loads(spec_json)), 0, 1)
    return time.perf_counter() - w0, time.process_time() - c0


def _gaps_and_durations(stream):
    import numpy as np

    by_worker = {}
    for t in stream:
        if not str(t.get("key", "")).startswith("_task"):
            continue
        for s in t["startstops"]:
            if s["action"] == "compute":
                by_worker.setdefault(t["worker"], []).append((s["start"], s["stop"]))
    gaps, durs = [], []
    for iv in by_worker.values():
        iv.sort()
        durs += [b - a for a, b in iv]
        gaps += [iv[i + 1][0] - iv[i][1] for i in range(len(iv) - 1)]
    return float(np.median(gaps)) if gaps else float("nan"), float(np.median(durs))


def main():
    import numpy as np

    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--ppu", type=int, default=8, help="continuum points per unit (M = 32 ppu)")
    ap.add_argument("--memory", action="store_true")
    a = ap.parse_args()
    from distributed import Client, LocalCluster, get_task_stream

    from tgsweep.sweep import ZarrStore, run_sweep
    from tgsweep.sweep.runner import PIN_ENV
    from tgsweep.sweep.store import provenance
    from tgsweep.sweep.tasks import compute_chunk

    s = spec(a.samples, ppu=a.ppu)
    compute_chunk(s, 0, 0)  # compile / load caches
    tasks = s.tasks()
    bare, results = [], []
    for p, c in tasks:
        t0 = time.perf_counter()
        results.append(compute_chunk(s, p, c))
        bare.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as d:
        st = ZarrStore(d + "/w.zarr")
        st.create(s, provenance(s))
        writes = []
        for r in results:
            t0 = time.perf_counter()
            st.write_chunk(s, r)
            writes.append(time.perf_counter() - t0)
        t_serial = run_sweep(s, d + "/serial.zarr", serial=True, progress=False,
                             summary=False).seconds  # excludes store creation, as t_dask
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               env=dict(PIN_ENV), silence_logs=40)
        client = Client(cluster)
        try:
            client.run(_warm, s.to_json())
            with get_task_stream(client) as ts:
                rep = run_sweep(s, d + "/dask.zarr", client=client, progress=False,
                                summary=False)
            t_dask = rep.seconds
            gap, dur = _gaps_and_durations(ts.data)
            share = [c / w for w, c in client.run(_cpu_share, s.to_json()).values()]
        finally:
            client.close()
            cluster.close()
    n = len(tasks)
    print(f"small point: continuum M={s.geometry()['n_grid']}, every observable "
          f"({len(s.observables)}), {n} tasks x {s.samples_per_task} samples")
    print(f"bare physics      : median {1e3 * np.median(bare):8.1f} ms/task")
    print(f"Zarr write        : median {1e3 * np.median(writes):8.1f} ms/task "
          f"({len(results[0].data) + 3} arrays)")
    print(f"serial + Zarr     : {a.samples / t_serial:8.2f} samples/s  "
          f"(mean overhead vs bare {1e3 * (t_serial - sum(bare)) / n:.1f} ms/task)")
    print(f"LocalCluster 2x1  : {a.samples / t_dask:8.2f} samples/s  (warmed workers, "
          "excl. cluster start-up)")
    print(f"ratio dask/serial : {t_serial / t_dask:.2f}  (goal >= 1.8)")
    print(f"dask task stream  : median task {1e3 * dur:.1f} ms, median idle gap between tasks "
          f"on a worker {1e3 * gap:.1f} ms")
    print("CPU/wall of one task run on both workers at once: "
          + ", ".join(f"{x:.2f}" for x in share) + "  (1.00 = a whole core each)")
    print(f"dask overhead vs ideal 2x: {1e3 * (t_dask - t_serial / 2) / (n / 2):.1f} "
          "ms/task/worker (mean)")
    if a.memory:
        print(f"client peak RSS: 100 samples {_peak(100):.0f} MiB, "
              f"1000 samples {_peak(1000):.0f} MiB")


if __name__ == "__main__":
    main()
