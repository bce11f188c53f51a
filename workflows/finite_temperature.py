"""Finite-temperature figure (docs/figures/finite_temperature.png): run with
``python workflows/finite_temperature.py [OUT.png]`` (about 2 minutes on one core).

(a) lambda_0 vs L at several T, clean lattice ring, grand canonical at mu = -1 (density ~ 0.33):
    the quasi-condensate (lambda_0 ~ sqrt(L) at T = 0) saturates once L exceeds the thermal
    correlation length xi(T); (b) the exact IIKS correlation length vs T (line) with the decay
    rate fitted to gamma(0, x) on a ring of 200 sites (points); (c) the thermal stiffness
    rho_s(T) = L (Omega(theta) - Omega(0)) / theta^2 (theta = 1) of a clean and of Anderson
    (W = 3) rings, L = 40, resolved far below roundoff by the Matsubara series.
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.integrate import quad  # noqa: E402

import tgsweep  # noqa: E402
from tgsweep import Ring, thermal_state  # noqa: E402
from tgsweep.observables import condensate, thermal_stiffness  # noqa: E402


def iiks_rate(T, mu):
    f = lambda k: -np.log(abs(np.tanh((-2 * np.cos(k) - mu) / (2 * T))))  # noqa: E731
    kf = np.arccos(-mu / 2)
    return quad(f, -np.pi, np.pi, points=[-kf, kf], limit=400)[0] / (2 * np.pi)


def main(out="docs/figures/finite_temperature.png"):
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    mu = -1.0
    sizes = [16, 32, 64, 128]
    lam0 = [condensate(tgsweep.ground_state(Ring.lattice(np.zeros(L)), mu=mu), 1)[0]
            for L in sizes]
    ax[0].plot(sizes, lam0, "k-o", label="T = 0")
    for T in (0.05, 0.15, 0.5):
        lam = [condensate(thermal_state(Ring.lattice(np.zeros(L)), T, mu=mu), 1)[0]
               for L in sizes]
        ax[0].plot(sizes, lam, "-o", label=f"T = {T} (xi = {1 / iiks_rate(T, mu):.1f})")
        print("lambda0", T, lam, flush=True)
    ax[0].set(xscale="log", yscale="log", xlabel="L (sites)", ylabel=r"$\lambda_0$",
              title=r"(a) quasi-condensate vs L, $\mu=-1$")
    ax[0].set_xticks(sizes, [str(x) for x in sizes], minor=False)
    ax[0].set_xticks([], minor=True)
    yt = [1.5, 2, 3, 4, 6, 8]
    ax[0].set_yticks(yt, [str(y) for y in yt], minor=False)
    ax[0].set_yticks([], minor=True)
    ax[0].legend(fontsize=8)

    L, mu_b = 200, -0.6
    ts = np.geomspace(0.1, 2.0, 12)
    xi_th = [1 / iiks_rate(T, mu_b) for T in ts]
    fit = []
    for T in ts[::2]:
        row = thermal_state(Ring.lattice(np.zeros(L)), T, mu=mu_b).upper_rows(0, 1)[0]
        xi = 1 / iiks_rate(T, mu_b)
        x = np.arange(L)
        sel = (x > 3 * xi) & (x < min(L / 2 - 5, 25 * xi))
        fit.append(-1 / np.polyfit(x[sel], np.log(np.abs(row[sel])), 1)[0])
    print("xi fit", list(zip(ts[::2], fit, xi_th[::2])), flush=True)
    ax[1].plot(ts, xi_th, "k-", label="IIKS (exact, L = inf)")
    ax[1].plot(ts[::2], fit, "o", label="fit to gamma(0, x), L = 200")
    ax[1].set(xscale="log", yscale="log", xlabel="T", ylabel=r"$\xi$ (sites)",
              title=r"(b) thermal correlation length, $\mu=-0.6$")
    ax[1].legend(fontsize=8)

    L, mu_c = 40, -0.6
    ts = np.geomspace(0.03, 3.0, 14)
    clean = [thermal_stiffness(Ring.lattice(np.zeros(L)), T, [1.0], mu=mu_c,
                               ensemble="grand").rho_s[0] for T in ts]
    ax[2].plot(ts, clean, "k-o", label="clean")
    for s in range(3):
        eps = np.random.default_rng(100 + s).uniform(-1.5, 1.5, L)
        rho = [thermal_stiffness(Ring.lattice(eps), T, [1.0], mu=mu_c,
                                 ensemble="grand").rho_s[0] for T in ts]
        ax[2].plot(ts, np.abs(rho), "-", alpha=0.8, label=f"Anderson W = 3, sample {s}")
    print("rho_s clean", list(zip(ts, clean)), flush=True)
    ax[2].axhline(1e-16, color="gray", ls=":", lw=1)
    ax[2].text(0.035, 3e-16, "double-precision roundoff of Omega", fontsize=7, color="gray")
    ax[2].set(xscale="log", yscale="log", xlabel="T", ylabel=r"$|\rho_s(T)|$ (1/site)",
              title=r"(c) thermal stiffness, L = 40, $\theta = 1$")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print("wrote", out)


if __name__ == "__main__":
    main(*sys.argv[1:])
