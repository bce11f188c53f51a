"""The README's Python example under the default environment vs pinned to one thread.

Runs the first ```python block of README.md in fresh subprocesses: "default" with the thread
variables of :data:`tgsweep.threads.PIN_ENV` removed from the environment (what a user gets in
a plain shell), "pinned" with them set to 1, and "keep" = default plus
``TGSWEEP_BLAS_THREADS=keep`` (the libraries' own thread pools: tgsweep before its thread
policy).  Each subprocess runs the example once to compile (numba) and then ``--repeat`` timed
times; every top-level statement is timed separately.  The kinds alternate, so that load from
other processes hits them alike.  Prints per-statement medians and the ratios default/pinned
(goal <= 1.1) and keep/pinned of the whole example.

    python benchmarks/bench_readme_example.py [--repeat 1] [--rounds 1]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# the body run in each subprocess: argv[1] = example source, argv[2] = repeats
CHILD = r"""
import ast, json, sys, time
src, repeat = sys.argv[1], int(sys.argv[2])
stmts = ast.parse(src).body
codes = [(ast.get_source_segment(src, s).splitlines()[0][:60],
          compile(ast.Module([s], []), "<readme>", "exec")) for s in stmts]
def once():
    ns, times = {}, []
    for label, code in codes:
        t = time.perf_counter(); exec(code, ns); times.append((label, time.perf_counter() - t))
    return times
once()  # compile the kernels
runs = [once() for _ in range(repeat)]
import tgsweep.threads as th
print(json.dumps({"runs": runs, "blas": th.blas_threads()}))
"""


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"```python\n(.*?)```", text, re.S)
    if not m:
        raise SystemExit("no ```python block in README.md")
    return m.group(1)


KINDS = ("default", "pinned", "keep")


def run_child(src: str, repeat: int, kind: str) -> dict:
    from tgsweep.threads import ENV_SWITCH, PIN_ENV

    env = {k: v for k, v in os.environ.items() if k not in PIN_ENV and k != ENV_SWITCH}
    if kind == "pinned":
        env.update(PIN_ENV)
    elif kind == "keep":
        env[ENV_SWITCH] = "keep"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", CHILD, src, str(repeat)], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per subprocess")
    ap.add_argument("--rounds", type=int, default=1, help="subprocesses per kind")
    a = ap.parse_args(argv)
    src = readme_example()
    res = {k: [] for k in KINDS}
    blas = {}
    t0 = time.perf_counter()
    for _ in range(a.rounds):
        for kind in KINDS:
            r = run_child(src, a.repeat, kind)
            res[kind] += r["runs"]
            blas[kind] = r["blas"]
    labels = [lab for lab, _ in res["pinned"][0]]
    print(f"README example, {a.rounds} subprocesses x {a.repeat} timed runs per kind "
          f"(after one compile run each); {os.cpu_count()} CPUs")
    for kind in res:
        print(f"  BLAS threads seen by the example ({kind}): {blas[kind]}")
    print(f"  {'statement':62s} {'default s':>10s} {'pinned s':>10s} {'keep s':>10s}")
    med = {k: statistics.median(sum(t for _, t in run) for run in res[k]) for k in KINDS}
    for i, lab in enumerate(labels):
        m = {k: statistics.median(run[i][1] for run in res[k]) for k in KINDS}
        if max(m.values()) < 0.01:
            continue
        print(f"  {lab:62s} {m['default']:10.3f} {m['pinned']:10.3f} {m['keep']:10.3f}")
    print(f"  {'whole example (median)':62s} {med['default']:10.3f} {med['pinned']:10.3f} "
          f"{med['keep']:10.3f}")
    print(f"ratio default/pinned = {med['default'] / med['pinned']:.2f} (goal <= 1.1); "
          f"keep/pinned (libraries' own pools, the behaviour before) = "
          f"{med['keep'] / med['pinned']:.2f}; "
          f"benchmark wall time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
