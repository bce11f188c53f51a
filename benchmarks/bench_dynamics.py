"""Benchmark of the TG dynamics (tgsweep.core.evolution): eigenbasis vs Chebyshev time stepping.

Run single-threaded for comparable numbers:

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        .venv/bin/python benchmarks/bench_dynamics.py [sample|scaling] [M ...]

``sample`` (default; M = 250 ... 2000): lattice Anderson W = 2, domain wall with N = M/4
particles; time of Evolution.prepare (eigh + projection, O(M^3)), of T = 50 density steps
(O(M K N) each, as a real GEMM), of the infinite-time average, of the plain complex-NumPy twin
for the same steps, of dynamics_sample on top of the steps, and of the same T steps with the
Chebyshev propagator.

``scaling`` (M = 500 ... 8000): per-step time of both methods for one step dt = 1 (lattice
W = 2, spectrum in [-3, 3], so a = 3 and K_cheb = 21 terms), with N = M/4 and with N = 50
fixed.  The Chebyshev step is O(M N K_cheb): the column "ns/(M N K)" stays flat; the eigen step
is O(M^2 N) (its eigh, O(M^3), is shown separately; it stops at DENSE_MAX_DYNAMICS and is
skipped above ``EIGEN_MAX`` to keep the run short).

``support`` (M = 1000 ... 10000): the support-restricted propagator against Chebyshev in the
same run, per step dt = 1 averaged over T = 10 steps from t = 0 (lattice Anderson W = 2 and 4,
the filled step K = [0, M/4) in the site basis, N = M/4, so N grows with M): seconds per step
of each, their ratio, the longest window, and the two results' largest density difference
against the stated count error.  Chebyshev is O(M N K) per step, support O(N window K).

``goal`` [W ...] (default W = 4): ``dynamics_sample`` with method="support" on a 10^5-site
lattice ring, the filled step K = [0, 10^4) (N = 10^4, site basis), 21 times to t = 1000,
without the infinite-time average; also to t = 100 and 300 (the scaling in t).  Prints the
wall and CPU time, N_tr(t_max) and the stated count error.  Minutes, not for CI.

``auto`` (M = 250, 1000, 2000; W = 0.5, 2, 4; a linear grid to t = 100 and a log grid to
t = 1000): CPU seconds of support, chebyshev and eigen (eigh included) against the cost model
of ``choose_method`` (``method_costs``), the choice of "auto" and its cost relative to the
fastest measured.

``wall`` [W ...] (default 4, 2): the domain wall with N = 10^4 < |K| = 5 x 10^4 on a 10^5-site
lattice by ``domain_wall(method="sliced")`` (CPU seconds, stated count error, stored entries
per orbital), then ``dynamics_sample`` with the support propagator to t = 100.

Measured ``auto`` (shared machine, one thread): "auto" picked the fastest method in all 18
cases (chosen / best = 1.00); support beats chebyshev from M = 1000 on (2.5x at M = 1000,
5-10x at M = 2000 to t = 100) and beats eigen with its eigh from M = 1000 on the t = 100 grid,
at M = 2000 on the t = 1000 grid for W = 0.5 and 4 (W = 2: eigen 4.43 s vs support 4.46 s);
eigen wins on every M = 250 ring and at M = 1000 to t = 1000.  So the crossover depends on the
time grid and the disorder, not on M alone.  The estimates are within 0.6-1.6x of the
measured times.  ``wall``: the sliced wall takes 3.2 s CPU at W = 4 (stated count error
2.4e-9, 157 stored entries per orbital) and 10.6 s at W = 2 (4.7e-9, 358 entries); the
support dynamics to t = 100 then 7.6-7.8 s (N_tr(100) = 0.235 and 1.66, count error
4.2e-8 and 4.6e-8); the dense path would need the 5 x 10^4 square block (20 GB).
Measured (shared 2-core machine, one thread): ``support`` ratio Chebyshev / support per step
3.5 (M = 1000) ... 42 (M = 10^4) at W = 2, 2.9 ... 58 at W = 4; ``goal`` to t = 1000: 64 s CPU
at W = 4 (N_tr = 4.08, count error 2.4e-7), 108 s CPU at W = 2 (N_tr = 13.8, 1.6e-7), 0.6 GB
peak.  The Chebyshev method on the same case would need the (M, N) complex array (16 GB) and,
at ~2 ns per element and term with ~4400 terms to t = 1000, about 2.5 hours.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from tgsweep import Ring
from tgsweep.core import _dynamics_kernels as K
from tgsweep.core.evolution import Evolution, choose_method, method_costs, time_grid
from tgsweep.core.initial_states import domain_wall
from tgsweep.observables.dynamics import dynamics_sample

EIGEN_MAX = 4000


def _t(f, *a, **k):
    t0 = time.perf_counter()
    r = f(*a, **k)
    return time.perf_counter() - t0, r


def _warm():
    r = Ring.lattice(np.zeros(16))
    ini = domain_wall(r, 4)
    ev = Evolution.prepare(r, ini, method="eigen")
    ev.density([0.0, 1.0])
    ev.diagonal_density()
    Evolution.prepare(r, ini, method="chebyshev").density([0.0, 1.0])


def sample(sizes=(250, 500, 1000, 2000), n_times=50):
    _warm()
    print(f"{'M':>6} {'N':>5} {'prepare':>9} {'steps':>9} {'per step':>9} {'numpy twin':>10} "
          f"{'diag ens':>9} {'sample':>9} {'cheb steps':>10}   (seconds, T = {n_times})")
    for m in sizes:
        rng = np.random.default_rng(m)
        ring = Ring.lattice(rng.uniform(-1, 1, m))
        n = m // 4
        ini = domain_wall(ring, n)
        times = time_grid(1000.0, n_linear=n_times // 2, n_log=n_times - n_times // 2 - 1)
        t_prep, ev = _t(Evolution.prepare, ring, ini, method="eigen")
        t_steps, _ = _t(ev.density, times)
        if m <= 1000:
            t_twin, _ = _t(K.density_steps_reference, ev.vectors, ev.energies, ev.coef, times)
        else:
            t_twin = float("nan")
        t_diag, _ = _t(ev.diagonal_density)
        t_samp, _ = _t(dynamics_sample, ring, ini, times, evolution=ev)
        evc = Evolution.prepare(ring, ini, method="chebyshev")
        t_cheb, _ = _t(evc.density, times)
        print(f"{m:>6} {n:>5} {t_prep:9.3f} {t_steps:9.3f} {t_steps / times.size:9.4f} "
              f"{t_twin:10.3f} {t_diag:9.3f} {t_samp:9.3f} {t_cheb:10.3f}")


def scaling(sizes=(500, 1000, 2000, 4000, 8000), n_fixed=50, n_steps=3, dt=1.0):
    _warm()
    n_terms = K.chebyshev_coefficients(3.0 * (1 + 1e-12) * dt).size
    print(f"one step dt = {dt} (K_cheb = {n_terms}); seconds per step, mean of {n_steps}")
    print(f"{'M':>6} {'N':>5} {'cheb/step':>10} {'ns/(M N K)':>11} {'eigen/step':>11} "
          f"{'ns/(M^2 N)':>11} {'eigh':>8} {'ratio':>7}")
    for m in sizes:
        ring = Ring.lattice(np.random.default_rng(m).uniform(-1, 1, m))
        for n in (m // 4, n_fixed):
            ini = domain_wall(ring, n)
            times = dt * np.arange(1, n_steps + 1)
            evc = Evolution.prepare(ring, ini, method="chebyshev")
            t_c = _t(evc.density, times)[0] / n_steps
            if m <= EIGEN_MAX:
                t_eigh, ev = _t(Evolution.prepare, ring, ini, method="eigen")
                t_e = _t(ev.density, times)[0] / n_steps
            else:
                t_eigh = t_e = float("nan")
            print(f"{m:>6} {n:>5} {t_c:10.4f} {t_c / (m * n * n_terms) * 1e9:11.3f} "
                  f"{t_e:11.4f} {t_e / (m * m * n) * 1e9:11.4f} {t_eigh:8.2f} "
                  f"{t_e / t_c:7.1f}")


def support(sizes=(1000, 2000, 4000, 10000), n_steps=10, dt=1.0, disorders=(2.0, 4.0)):
    _warm()
    r = Ring.lattice(np.random.default_rng(0).uniform(-1, 1, 64))
    Evolution.prepare(r, domain_wall(r, 16, region=(0, 16), basis="sites"),
                      method="support").support_density([0.0, 1.0])
    times = dt * np.arange(n_steps + 1)
    print(f"T = {n_steps} steps of dt = {dt} from t = 0; seconds per step; N = M/4 (filled "
          f"step, site basis)")
    print(f"{'W':>4} {'M':>6} {'N':>5} {'cheb/step':>10} {'supp/step':>10} {'ratio':>7} "
          f"{'window':>7} {'max|drho|':>10} {'count_err':>10}")
    for w in disorders:
        for m in sizes:
            ring = Ring.lattice(np.random.default_rng(m).uniform(-w / 2, w / 2, m))
            n = m // 4
            ini = domain_wall(ring, n, region=(0, n), basis="sites")
            t_s, run = _t(Evolution.prepare(ring, ini, method="support").support_density,
                          times)
            t_c, rho_c = _t(Evolution.prepare(ring, ini, method="chebyshev").density, times)
            diff = np.abs(run.density - rho_c).sum(axis=1).max()
            print(f"{w:4.1f} {m:>6} {n:>5} {t_c / n_steps:10.4f} {t_s / n_steps:10.5f} "
                  f"{t_c / t_s:7.1f} {int(run.max_window.max()):>7} {diff:10.2e} "
                  f"{run.count_error().max():10.2e}")


def goal(disorders=(4.0,), m=100_000, n=10_000, t_maxes=(100.0, 300.0, 1000.0)):
    r = Ring.lattice(np.random.default_rng(0).uniform(-1, 1, 64))
    dynamics_sample(r, domain_wall(r, 16, region=(0, 16), basis="sites"), [0.0, 1.0],
                    method="support", infinite_time=False)
    print(f"dynamics_sample, method='support', M = {m}, N = {n} (filled step [0, {n}), site "
          f"basis), 21 times")
    print(f"{'W':>4} {'t_max':>7} {'seconds':>8} {'cpu s':>8} {'N_tr(t_max)':>12} "
          f"{'count_err':>10}")
    for w in disorders:
        ring = Ring.lattice(np.random.default_rng(2024).uniform(-w / 2, w / 2, m))
        ini = domain_wall(ring, n, region=(0, n), basis="sites")
        for t_max in t_maxes:
            times = time_grid(t_max, n_linear=20)
            c0 = time.process_time()
            sec, d = _t(dynamics_sample, ring, ini, times, method="support",
                        infinite_time=False)
            cpu = time.process_time() - c0
            print(f"{w:4.1f} {t_max:7.0f} {sec:8.1f} {cpu:8.1f} {d.n_transferred[-1]:12.6f} "
                  f"{d.count_error.max():10.2e}", flush=True)


def auto(sizes=(250, 1000, 2000), disorders=(0.5, 2.0, 4.0), repeats=3):
    """Measured CPU seconds of each propagator against the cost model's estimate and the
    choice of "auto" (lattice Anderson W, filled step N = M/4; support on the site basis, the
    others on the eigenbasis of H_K, eigh included), for a fine grid to t = 100 and a log grid
    to t = 1000; median of ``repeats`` runs below M = 1000; chosen / best is the cost of the
    auto choice relative to the fastest measured."""
    _warm()
    r = Ring.lattice(np.random.default_rng(0).uniform(-1, 1, 64))
    Evolution.prepare(r, domain_wall(r, 16, region=(0, 16), basis="sites"),
                      method="support").support_density([0.0, 1.0])
    grids = (("lin 100", time_grid(100.0, n_linear=20)),
             ("log 1000", time_grid(1000.0, n_log=20, t_min_log=1.0)))
    print("CPU seconds measured / estimated (method_costs); auto = choose_method")
    print(f"{'grid':>8} {'W':>4} {'M':>5} {'support':>13} {'chebyshev':>13} {'eigen':>13} "
          f"{'auto':>9} {'chosen/best':>11}")
    for label, times in grids:
        for w in disorders:
            for m in sizes:
                ring = Ring.lattice(np.random.default_rng(m).uniform(-w / 2, w / 2, m))
                n = m // 4
                sites = domain_wall(ring, n, region=(0, n), basis="sites")
                eig = domain_wall(ring, n, region=(0, n))
                runs = {"support": lambda: Evolution.prepare(
                            ring, sites, method="support").support_density(times),
                        "chebyshev": lambda: Evolution.prepare(
                            ring, sites, method="chebyshev").density(times),
                        "eigen": lambda: Evolution.prepare(
                            ring, eig, method="eigen").density(times)}
                meas = {}
                for k, f in runs.items():
                    ts = []
                    for _ in range(repeats if m < 1000 else 1):
                        c0 = time.process_time()
                        f()
                        ts.append(time.process_time() - c0)
                    meas[k] = float(np.median(ts))
                est = method_costs(ring, n, times)
                ch = choose_method(ring, n, times)
                cells = " ".join(f"{meas[k]:6.3f}/{est[k]:6.3f}" for k in runs)
                print(f"{label:>8} {w:4.1f} {m:>5} {cells} {ch:>9} "
                      f"{meas[ch] / min(meas.values()):11.2f}", flush=True)


def wall(m=100_000, n=10_000, disorders=(4.0, 2.0)):
    """The domain wall with N < |K| on a 10^5-site lattice (K the first half, N = 10^4):
    CPU seconds of domain_wall(method="sliced") (the dense block would be a 5 x 10^4 square
    matrix, 20 GB) and its stated count error; then dynamics_sample with the support
    propagator to t = 100 (21 times)."""
    r = Ring.lattice(np.random.default_rng(0).uniform(-1, 1, 4000))
    domain_wall(r, 500, method="sliced")
    print(f"domain_wall(method='sliced'), M = {m}, K = [0, {m // 2}), N = {n}; then "
          f"dynamics_sample(method='support') to t = 100")
    print(f"{'W':>4} {'wall cpu s':>10} {'count_err':>10} {'entries/N':>9} {'dyn cpu s':>9} "
          f"{'N_tr(100)':>10} {'count_err':>10}")
    for w in disorders:
        ring = Ring.lattice(np.random.default_rng(2024).uniform(-w / 2, w / 2, m))
        c0 = time.process_time()
        ini = domain_wall(ring, n, region=(0, m // 2), method="sliced")
        c1 = time.process_time()
        d = dynamics_sample(ring, ini, time_grid(100.0, n_linear=20), method="support",
                            infinite_time=False)
        c2 = time.process_time()
        print(f"{w:4.1f} {c1 - c0:10.2f} {ini.count_error:10.2e} {ini.orbitals.nnz / n:9.0f} "
              f"{c2 - c1:9.1f} {d.n_transferred[-1]:10.4f} {d.count_error.max():10.2e}",
              flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    mode = "sample"
    if args and args[0] in ("sample", "scaling", "support", "goal", "auto", "wall"):
        mode = args.pop(0)
    if mode == "goal":
        goal(tuple(float(a) for a in args) or (4.0,))
        sys.exit(0)
    if mode == "wall":
        wall(disorders=tuple(float(a) for a in args) or (4.0, 2.0))
        sys.exit(0)
    if mode == "auto":
        auto(*((tuple(int(a) for a in args),) if args else ()))
        sys.exit(0)
    sizes = tuple(int(a) for a in args)
    if mode == "support":
        support(*((sizes,) if sizes else ()))
    elif mode == "scaling":
        scaling(*((sizes,) if sizes else ()))
    else:
        sample(*((sizes,) if sizes else ()))
