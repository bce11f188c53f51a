"""Sweep engine vs the ideal parallel loop, measured side by side in one run.

Run with:  .venv/bin/python benchmarks/bench_sweep.py [--samples 40 1000] [--repeats 3]
           [--cold] [--dask] [--slurm] [--skip end summary task start]
           [--start-cases serial auto workers dask] [--no-bytecode]

The "small point" is a continuum ring (L = 32, 8 points per unit, M = 256) with speckle
disorder at mu = 20 (N ~ 45) and every registered observable, 2 samples per task.  The *ideal*
is the same per-sample physics (``tasks.run_sample``) in a plain ``joblib.Parallel(n_jobs=2)``
loop that writes nothing, run as a whole process (Python start, imports, worker start, loop);
``tgsweep run`` is measured the same way (whole process, its default executor: local worker
processes when they pay off, the first task computed by the client).  CPU is the sum over the
process tree (sampled from /proc).  Runs alternate ideal / tgsweep and medians are printed:
on a machine shared with other work absolute times are noisy, the ratios are the result.

Printed (goals of the sweep engine in brackets):

* wall and CPU of ``tgsweep run`` / ideal at each sample count [wall <= 1.1 at 1000, <= 1.3
  at 40; CPU <= 1.15];
* the summary: the shard moments the run takes as it writes shards (from the run's own
  report, ``TGSWEEP_RUN_REPORT``) / a NumPy reduction of the same arrays read with zarr
  [<= 1.2], the end-of-run step (last shards, attributes, merge and group write) as measured
  inside the run, and the summary streamed from a finished store (as after a resume);
* per-task overhead of the engine with 1 sample per task (~50 ms): the client's store write
  and a pool round trip per task, the client's CPU per task while the tasks run (every thread;
  ``RunReport.loop_cpu_seconds``), and the measured wall overhead of a run on 2 warmed workers,
  in % of the task, against the same tasks timed inside the same two workers computing at
  once (sum / 2: a perfectly balanced run on two busy cores, no dispatch, no store) [<= 5 %],
  against sum(bare)/2 of one process alone (which adds what two busy cores cost each other)
  and against a plain ``pool.map`` of the same tasks on the same workers (dispatch without a
  store);
* start-up and tear-down of a trivial run (8 one-sample tasks of a 12-site lattice, enough
  that requested workers are used; the mode each run reported is printed) over
  ``python -c "import tgsweep"`` [<= 0.3 s serial, <= 1.0 s with workers], and the whole
  ``tgsweep status STORE`` command [< 1 s]; the dask case also says how much of it is the
  import of distributed (``python -c "import tgsweep, distributed"`` over the import);
  measured as a user's Python runs: every subprocess gets the environment without
  ``PYTHONDONTWRITEBYTECODE`` (after an untimed warm-up run of each case that writes
  ``__pycache__``), the baseline import too;
  ``--no-bytecode`` keeps the variable (every process compiles tgsweep from source);
Every line holding a goal starts with or contains ``GOAL``.
* ``--cold``: a first sweep on an empty numba cache / (the warm sweep + one compilation of the
  spec's kernels) [<= 1.5];
* ``--dask``: the same sweep on a warmed dask LocalCluster, worker profiler on / off;
* ``--slurm``: ``tgsweep run --cluster slurm --jobs 2`` / the local run (needs ``sinfo``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PIN = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
       "MKL_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1"}
for _k, _v in PIN.items():
    os.environ.setdefault(_k, _v)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SMALL_POINT = """\
[model]
kind = "continuum"
length = 32
points_per_unit = {ppu}
[disorder]
kind = "speckle"
strength = 4.0
corr_length = 0.5
[state]
mu = 20.0
[sampling]
n_samples = {n}
seed = 1
samples_per_task = {spt}
[observables.energy]
[observables.particle_numbers]
[observables.density]
[observables.condensate]
[observables.hs_profile]
sigmas = [0.5, 0.8]
[observables.momentum_distribution]
[observables.lyapunov]
energies = [5.0, 20.0]
[observables.stiffness]
thetas = [0.5, 2.0]
[observables.ecl_profile]
windows = [[0.0, 10.0], [10.0, 20.0]]
[observables.dynamics]
times = {{t_max = 2.0, n_times = 10}}
"""

TRIVIAL = """\
[model]
kind = "lattice"
sites = 12
[disorder]
kind = "anderson"
W = 1.0
[state]
mu = 0.0
[sampling]
n_samples = 8
seed = 1
samples_per_task = 1
[observables.energy]
"""

IDEAL = """\
import sys
from joblib import Parallel, delayed
from tgsweep.sweep import load_spec
from tgsweep.sweep.tasks import layouts_of, run_sample

if __name__ == "__main__":
    spec = load_spec(sys.argv[1])
    lay = layouts_of(spec)
    out = Parallel(n_jobs=2)(delayed(run_sample)(spec, 0, s, lay) for s in range(spec.n_samples))
    assert all(code == 1 for _, code, _ in out)
"""


def spec(n_samples, spt=2, ppu=8):
    """The benchmark's small point as a validated Spec."""
    import tomllib

    from tgsweep.sweep import parse_spec

    return parse_spec(tomllib.loads(SMALL_POINT.format(n=n_samples, spt=spt, ppu=ppu)))


# ------------------------------------------------------------------ whole-process measurement
def _tree_cpu(root: int, seen: dict) -> None:
    """Add the CPU ticks of every live process below ``root`` to ``seen`` (pid -> ticks)."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d)] = (int(f[1]), int(f[11]) + int(f[12]))
    for pid, (ppid, ticks) in parent.items():
        p, depth = pid, 0
        while p in parent and p != root and depth < 16:
            p, depth = parent[p][0], depth + 1
        if p == root:
            seen[pid] = max(seen.get(pid, 0), ticks)


#: ``--no-bytecode``: measure as this sandbox runs Python (PYTHONDONTWRITEBYTECODE=1, every
#: tgsweep module compiled from source in every process) instead of as a user's Python does
BYTECODE = {"on": True}


def run_env(extra=None) -> dict:
    """Environment of every measured subprocess: this one's, threads pinned (:data:`PIN`), and
    -- unless ``--no-bytecode`` -- without ``PYTHONDONTWRITEBYTECODE``, as on a user's machine,
    where Python writes ``__pycache__`` once and later processes load the bytecode (measured
    runs follow a warm-up run that wrote it)."""
    env = {**os.environ, **PIN, **(extra or {})}
    if BYTECODE["on"]:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure(cmd, env=None, poll=0.05) -> tuple[float, float]:
    """(wall, CPU) seconds of a command and every process it starts (CPU sampled from /proc
    every ``poll`` s; the last ``poll`` of a short-lived child may be missed)."""
    env = run_env(env)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    seen: dict[int, int] = {}
    while proc.poll() is None:
        _tree_cpu(proc.pid, seen)
        try:
            with open(f"/proc/{proc.pid}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
            seen[proc.pid] = max(seen.get(proc.pid, 0), int(f[11]) + int(f[12]))
        except OSError:
            pass
        time.sleep(poll)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({proc.returncode}):\n{err[-2000:]}")
    # the root's own final CPU (children reaped by it are in its cutime/cstime)
    return wall, sum(seen.values()) / os.sysconf("SC_CLK_TCK")


def tg(*args) -> list[str]:
    return [sys.executable, "-m", "tgsweep.cli", *map(str, args)]


def med(xs):
    return statistics.median(xs)


# ------------------------------------------------------------------ sections
def _reports(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def section_end_to_end(tmp: Path, counts, repeats):
    ideal_py = tmp / "ideal.py"
    ideal_py.write_text(IDEAL)
    results = {}
    for n in counts:
        toml = tmp / f"point{n}.toml"
        toml.write_text(SMALL_POINT.format(n=n, spt=2, ppu=8))
        ideal, ours = [], []
        rep_file = tmp / f"reports{n}.jsonl"
        for r in range(repeats if n <= 200 else max(1, repeats - 1)):
            ideal.append(measure([sys.executable, str(ideal_py), str(toml)]))
            out = tmp / f"run{n}-{r}.zarr"
            ours.append(measure(tg("run", toml, "--out", out, "--no-progress"),
                                env={"TGSWEEP_RUN_REPORT": str(rep_file)}))
            if r:
                shutil.rmtree(out, ignore_errors=True)
        reps = _reports(rep_file)
        results[n] = (ideal, ours, reps)
        wi, ci = med([w for w, _ in ideal]), med([c for _, c in ideal])
        wo, co = med([w for w, _ in ours]), med([c for _, c in ours])
        goal = "<= 1.1" if n >= 1000 else "<= 1.3"
        print(f"{n:5d} samples: tgsweep run {wo:6.2f} s wall {co:6.2f} s CPU | ideal "
              f"{wi:6.2f} s wall {ci:6.2f} s CPU | GOAL wall ratio {wo / wi:.2f} (goal {goal}), "
              f"GOAL CPU ratio {co / ci:.2f} (goal <= 1.15)   [median of {len(ours)}; "
              f"{reps[0]['mode'] if reps else '?'}]", flush=True)
        cs = med([r["close_seconds"] for r in reps]) if reps else float("nan")
        ms = med([r["moments_seconds"] for r in reps]) if reps else float("nan")
        print(f"{'':14s}measured inside the run: end-of-run (last shards, attributes, summary "
              f"merge + write) {cs:.2f} s, shard moments for the summary during the run "
              f"{ms:.3f} s; without the end-of-run step: wall ratio {(wo - cs) / wi:.2f}, CPU "
              f"ratio {(co - cs) / ci:.2f}", flush=True)
    return results


def section_summary(store_path: Path, n: int, reps: list, repeats):
    """The summary as the run computes it (moments as shards are written + the end-of-run
    merge and write, from the run's own report) and from a finished store (a fresh store
    object streams every shard: the path after a resume), against a NumPy reduction."""
    import numpy as np
    import zarr

    from tgsweep.sweep import ZarrStore

    s = spec(n)

    def numpy_reduction():
        g = zarr.open_group(str(store_path), mode="r")
        ok = g["status"][...] == 1
        n = ok.sum(axis=-1)
        out = {}
        for name in g.array_keys():
            a = g[name]
            if name in ("status", "error", "done") or "sample" not in a.metadata.dimension_names:
                continue
            x = np.asarray(a[...], dtype=np.float64)
            m = ok.reshape(ok.shape + (1,) * (x.ndim - ok.ndim))
            xs = np.where(m, x, 0.0)
            mean = xs.sum(axis=len(ok.shape) - 1) / n.reshape(n.shape + (1,) * (x.ndim - ok.ndim))
            out[name] = mean
        return out

    t_np, t_sum, t_write = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        numpy_reduction()
        t_np.append(time.perf_counter() - t0)
        st = ZarrStore(str(store_path))
        t0 = time.perf_counter()
        table = st.summary_table(s)
        t_sum.append(time.perf_counter() - t0)
        shutil.rmtree(store_path / "summary")  # written afresh, as at the end of a run
        t0 = time.perf_counter()
        st.write_summary(table)
        t_write.append(time.perf_counter() - t0)
    tn = med(t_np)
    ms = med([r["moments_seconds"] for r in reps]) if reps else float("nan")
    cs = med([r["close_seconds"] for r in reps]) if reps else float("nan")
    g = zarr.open_group(str(store_path), mode="r")
    n_arrays = len(list(g["summary"].array_keys()))
    print(f"summary of {store_path.name} ({n_arrays} arrays in the group) | NumPy read + masked "
          f"mean {tn:.3f} s", flush=True)
    print(f"    as the run computes it: moments while shards are written {ms:.3f} s -> GOAL "
          f"ratio {ms / tn:.2f} (goal <= 1.2; no end-of-run pass over the data); end-of-run "
          f"step (last shards, attributes, merge, group write) {cs:.3f} s", flush=True)
    print(f"    from a finished store (fresh store object, every shard streamed, e.g. after a "
          f"resume): summary {med(t_sum):.3f} s -> ratio {med(t_sum) / tn:.2f}; group write "
          f"{med(t_write):.3f} s", flush=True)


def section_per_task(tmp: Path, repeats):
    import numpy as np

    from tgsweep.sweep import ZarrStore, run_sweep
    from tgsweep.sweep.executors import LocalWorkers
    from tgsweep.sweep.store import provenance
    from tgsweep.sweep.tasks import compute_chunk

    s = spec(40, spt=1)
    compute_chunk(s, 0, 0)
    tasks = s.tasks()
    bare, results = [], []
    for p, c in tasks:
        t0 = time.perf_counter()
        results.append(compute_chunk(s, p, c))
        bare.append(time.perf_counter() - t0)
    st = ZarrStore(tmp / "w.zarr")
    st.create(s, provenance(s))
    writes = []
    for r in results:
        t0 = time.perf_counter()
        st.write_chunk(s, r)
        writes.append(time.perf_counter() - t0)
    workers = LocalWorkers(2, auto=False)
    try:
        ex = workers.get()
        rt = []
        for r in results[:20]:
            t0 = time.perf_counter()
            ex.submit(_echo, r).result()
            rt.append(time.perf_counter() - t0)
        run_sweep(s, tmp / "pt-warm.zarr", workers, progress=False, summary=False)  # workers
        # load their kernels once, as in any run after the first task; then, alternately, the
        # same tasks as a plain pool.map on the same workers (dispatch, no store) and run_sweep
        n = len(tasks)
        runs, cpus, maps, busy = [], [], [], []
        for k in range(repeats):
            # the same tasks computed by the same two workers at the same time, one call each
            # (no dispatch per task, no store): each task timed inside its worker, so their sum
            # / 2 is a perfectly balanced run on two *busy* cores (shared caches and memory)
            halves = [ex.submit(_timed_tasks, s, tasks[i::2]) for i in range(2)]
            busy.append(sum(sum(h.result()) for h in halves) / 2)
            t0 = time.perf_counter()
            list(ex.map(compute_chunk, [s] * n, [p for p, _ in tasks], [c for _, c in tasks]))
            maps.append(time.perf_counter() - t0)
            rep = run_sweep(s, tmp / f"pt{k}.zarr", workers, progress=False, summary=False)
            cpus.append(rep.loop_cpu_seconds)
            runs.append(rep.seconds)
    finally:
        workers.close()
    task = med(bare)
    ideal = sum(bare) / 2
    over_busy = (med(runs) - med(busy)) / (len(tasks) / 2)
    over = (med(runs) - ideal) / (len(tasks) / 2)
    # median of the paired differences (each run_sweep right after its pool.map): slow drifts
    # of the load on a shared machine cancel within a pair
    over_map = med([r - m for r, m in zip(runs, maps)]) / (len(tasks) / 2)
    print(f"per task (1 sample, median {1e3 * task:.1f} ms): client store write "
          f"{1e3 * med(writes):.1f} ms (the whole 40-task shard, written once after the last "
          f"result, {1e3 * max(writes):.1f} ms), pool round trip of a result {1e3 * med(rt):.1f} ms "
          f"(together {100 * (med(writes) + med(rt)) / task:.1f} % of the task); client CPU in "
          f"the task loop {1e3 * med(cpus) / len(tasks):.2f} ms/task = "
          f"{100 * med(cpus) / len(tasks) / task:.1f} % of the task (every thread of the client: "
          "dispatch, receipt, buffering, shard writes; on 2 cores it slows the workers by "
          "about that fraction)", flush=True)
    print(f"    GOAL measured wall overhead (dispatch + store) of run_sweep on 2 warmed workers vs "
          f"the same tasks timed inside the same two workers running at once (sum / 2 = "
          f"{med(busy):.2f} s): {1e3 * over_busy:.1f} ms/task = {100 * over_busy / task:.1f} % "
          "(goal <= 5 %)", flush=True)
    print(f"    vs sum(bare)/2 of one process alone ({ideal:.2f} s; adds what two busy cores cost "
          f"each other): {1e3 * over:.1f} ms/task = {100 * over / task:.1f} %", flush=True)
    print(f"    vs a plain pool.map of the same tasks on the same workers (no store; "
          f"{med(maps):.2f} s): {1e3 * over_map:+.1f} ms/task = {100 * over_map / task:+.1f} % "
          f"[median of {repeats} paired differences; two workers on two cores run each task slower than one "
          "process alone: the difference of the two lines]", flush=True)


def _echo(x):
    return x


def _timed_tasks(s, tasks):
    """Seconds of each ``compute_chunk`` of ``tasks``, measured inside this worker."""
    from tgsweep.sweep.tasks import compute_chunk

    out = []
    for p, c in tasks:
        t0 = time.perf_counter()
        compute_chunk(s, p, c)
        out.append(time.perf_counter() - t0)
    return out


START_CASES = {"serial": "run --serial", "auto": "run (auto)", "workers": "run --workers 2",
               "dask": "run --dask --workers 2"}


def section_startup(tmp: Path, repeats, which=tuple(START_CASES)):
    toml = tmp / "trivial.toml"
    toml.write_text(TRIVIAL)
    cases = {"import tgsweep": [sys.executable, "-c", "import tgsweep"],
             **{START_CASES[k]: None for k in START_CASES if k in which}}
    breakdown = "import tgsweep, distributed"  # what the dask run's client imports first
    if "dask" in which:
        cases[breakdown] = [sys.executable, "-c", "import tgsweep, distributed"]
    extra = {"run --serial": ["--serial"], "run (auto)": [], "run --workers 2": ["--workers", "2"],
             "run --dask --workers 2": ["--dask", "--workers", "2"]}
    walls = {k: [] for k in cases}
    cpus = {k: [] for k in cases}  # CPU of the process tree: less sensitive to other load
    modes = {}
    # warm-up (not timed): writes the __pycache__ of every module the cases import (bytecode on)
    for k, cmd in cases.items():
        measure(cmd or tg("run", toml, "--out", tmp / "triv-warm.zarr", "--no-progress",
                          *extra[k]))
        shutil.rmtree(tmp / "triv-warm.zarr", ignore_errors=True)
    for r in range(repeats):
        for i, (k, cmd) in enumerate(cases.items()):
            rep_file = tmp / f"triv-{r}-{i}.jsonl"
            if cmd is None:
                out = tmp / f"triv-{r}-{i}.zarr"
                cmd = tg("run", toml, "--out", out, "--no-progress", *extra[k])
            w, c = measure(cmd, env={"TGSWEEP_RUN_REPORT": str(rep_file)})
            walls[k].append(w)
            cpus[k].append(c)
            modes[k] = ", ".join(rep["mode"] for rep in _reports(rep_file))
    base, cbase = med(walls["import tgsweep"]), med(cpus["import tgsweep"])
    print(f"trivial run (lattice L=12, 8 one-sample tasks), whole process, over `import tgsweep` "
          f"({base:.2f} s wall, {cbase:.2f} s CPU); bytecode "
          + ("on (PYTHONDONTWRITEBYTECODE unset, __pycache__ written by a warm-up run, as on a "
             "user's machine):" if BYTECODE["on"] else "off (--no-bytecode: every process "
             "compiles tgsweep's modules from source):"), flush=True)
    for k in list(cases)[1:]:
        if k == breakdown:
            continue
        goal = "<= 0.3" if k in ("run --serial", "run (auto)") else "<= 1.0"
        print(f"    GOAL {k:24s} +{med(walls[k]) - base:5.2f} s  (goal {goal})   [{modes[k]}; "
              f"CPU +{med(cpus[k]) - cbase:.2f} s]", flush=True)
        if k == START_CASES["dask"]:
            dw, dc = med(walls[breakdown]) - base, med(cpus[breakdown]) - cbase
            print(f"         of it: importing distributed +{dw:.2f} s (CPU +{dc:.2f} s); "
                  f"scheduler, workers, tasks, tear-down +{med(walls[k]) - base - dw:.2f} s "
                  f"(CPU +{med(cpus[k]) - cbase - dc:.2f} s)", flush=True)
    store = sorted(tmp.glob("triv-0-*.zarr"))[0]  # the first trivial run's store
    st = [measure(tg("status", store)) for _ in range(repeats)]
    print(f"    GOAL tgsweep status STORE     {med([w for w, _ in st]):5.2f} s whole process "
          f"(goal < 1.0; +{med([w for w, _ in st]) - base:.2f} s over the import; CPU "
          f"{med([c for _, c in st]):.2f} s, +{med([c for _, c in st]) - cbase:.2f} s)",
          flush=True)


def section_cold(tmp: Path):
    toml = tmp / "cold.toml"
    toml.write_text(SMALL_POINT.format(n=40, spt=2, ppu=8))
    c1, c2 = tmp / "cache-compile", tmp / "cache-run"
    compile_only = [sys.executable, "-c",
                    "import sys; from tgsweep.sweep import load_spec; "
                    "from tgsweep.sweep.tasks import warm_cache; "
                    f"warm_cache([load_spec({str(toml)!r})])"]
    t_compile = measure(compile_only, env={"NUMBA_CACHE_DIR": str(c1)})[0]
    t_cold = measure(tg("run", toml, "--out", tmp / "cold.zarr", "--no-progress"),
                     env={"NUMBA_CACHE_DIR": str(c2)})[0]
    t_warm = measure(tg("run", toml, "--out", tmp / "warm.zarr", "--no-progress"),
                     env={"NUMBA_CACHE_DIR": str(c2)})[0]
    print(f"cold first sweep (empty numba cache, 40 samples) {t_cold:.1f} s; warm {t_warm:.1f} s;"
          f" one compilation of the spec's kernels (one process) {t_compile:.1f} s; "
          f"cold / (warm + compile) = {t_cold / (t_warm + t_compile):.2f} (goal <= 1.5)",
          flush=True)


def section_dask(tmp: Path):
    import dask
    from distributed import Client, LocalCluster

    from tgsweep.sweep import run_sweep
    from tgsweep.sweep.executors import PIN_ENV

    s = spec(40)
    walls = {}
    for profile in (True, False):
        with dask.config.set({"distributed.worker.profile.enabled": profile}):
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None, env=dict(PIN_ENV),
                                   silence_logs=50)
            client = Client(cluster)
            try:
                run_sweep(s, tmp / f"dw{profile}.zarr", client, progress=False, summary=False)
                walls[profile] = med([run_sweep(s, tmp / f"d{profile}{k}.zarr", client,
                                                progress=False, summary=False).seconds
                                      for k in range(2)])
            finally:
                client.close()
                cluster.close()
    print(f"dask LocalCluster(2x1), warmed, 40 samples: profiler on {walls[True]:.2f} s, off "
          f"{walls[False]:.2f} s, off/on {walls[False] / walls[True]:.2f}", flush=True)


def section_slurm(tmp: Path, repeats):
    if shutil.which("sinfo") is None or subprocess.run(["sinfo"], capture_output=True).returncode:
        print("slurm: sinfo not available here; not measured", flush=True)
        return
    import yaml

    toml = tmp / "slurm.toml"
    toml.write_text(SMALL_POINT.format(n=40, spt=2, ppu=8))
    cfg = yaml.safe_load((ROOT / "cluster" / "slurm.yaml").read_text())
    cfg["jobqueue"]["slurm"].update({"memory": "1GiB", "walltime": "00:15:00",
                                     "log-directory": str(tmp / "slurm-logs")})
    (tmp / "slurm.yaml").write_text(yaml.safe_dump(cfg))
    local, slurm = [], []
    for r in range(repeats):
        local.append(measure(tg("run", toml, "--out", tmp / f"l{r}.zarr", "--no-progress"))[0])
        slurm.append(measure(tg("run", toml, "--out", tmp / f"s{r}.zarr", "--no-progress",
                                "--cluster", "slurm", "--jobs", "2", "--cluster-config",
                                tmp / "slurm.yaml"))[0])
    print(f"slurm (--cluster slurm --jobs 2, single-node SLURM) 40 samples: {med(slurm):.1f} s vs "
          f"local {med(local):.1f} s: overhead {med(slurm) - med(local):+.1f} s, ratio "
          f"{med(slurm) / med(local):.2f}   [median of {repeats}]", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, nargs="+", default=[40, 1000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cold", action="store_true", help="cold numba cache vs warm")
    ap.add_argument("--dask", action="store_true", help="dask profiler on/off")
    ap.add_argument("--slurm", action="store_true", help="--cluster slurm --jobs 2 vs local")
    ap.add_argument("--skip", nargs="*", default=[], choices=["end", "summary", "task", "start"])
    ap.add_argument("--start-cases", nargs="+", default=list(START_CASES),
                    choices=list(START_CASES), help="which trivial runs the start-up section "
                    "times (default all; `tgsweep status` is timed on the first one's store)")
    ap.add_argument("--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE "
                    "in the subprocesses' environment (default: removed, as a user's Python)")
    a = ap.parse_args()
    BYTECODE["on"] = not a.no_bytecode
    load = os.getloadavg()[0]
    print(textwrap.fill(
        f"machine: {os.cpu_count()} cores, load average {load:.1f} before the run. "
        "Ideal = joblib.Parallel(n_jobs=2) over the same per-sample physics, writing nothing; "
        "both measured as whole processes, alternately, medians printed. With other load on "
        "the machine absolute times are noisy: read the ratios.", 100), flush=True)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        # warm the numba cache for the small point (both sides then load it)
        subprocess.run([sys.executable, "-c", "from tgsweep.sweep.tasks import warm_cache;"
                        f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_sweep as b;"
                        "warm_cache([b.spec(2)])"], check=True, env=run_env())
        if "end" not in a.skip:
            section_end_to_end(tmp, a.samples, a.repeats)
        if "summary" not in a.skip:
            n = max(a.samples)
            big = sorted(tmp.glob(f"run{n}-0.zarr"))
            if big:
                section_summary(big[0], n, _reports(tmp / f"reports{n}.jsonl"), a.repeats)
        if "task" not in a.skip:
            section_per_task(tmp, a.repeats)
        if "start" not in a.skip:
            section_startup(tmp, max(a.repeats, 3), a.start_cases)
        if a.cold:
            section_cold(tmp)
        if a.dask:
            section_dask(tmp)
        if a.slurm:
            section_slurm(tmp, a.repeats)
    print(f"load average after the run: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
