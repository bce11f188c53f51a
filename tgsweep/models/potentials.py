"""Disorder generators: a ``numpy.random.Generator`` in, a float64 array of grid values out.

Geometry and units
------------------
Every generator returns V on the M grid points x_i = i h of a ring of length L = M h (units
hbar^2/2m = 1, so V is an energy and lengths are in the same unit as L).  On the lattice h = 1
and V is the list of on-site energies eps_i.  The unit cells of the continuum ring are
I_n = [n, n+1), i.e. ``cell_size = points_per_unit`` consecutive grid points (cell of point i is
i // cell_size, as ``Ring.cell_index``).

Each generator draws a fixed number of variates for a given geometry (Poisson: for a given
number of points), in a fixed order, so the result is a pure function of (rng state, arguments);
use one ``Generator`` per sample built from a ``SeedSequence`` keyed by the sample identity.

Models
------
* iid per unit cell (alloy / Anderson): :func:`uniform_cells`, :func:`gaussian_cells`,
  :func:`bernoulli_cells`, and on the lattice :func:`anderson` (eps uniform in [-W/2, W/2]).
* Cauchy on-site energies on the lattice (Lloyd model, exact Lyapunov exponent): :func:`lloyd`.
* Poisson point obstacles (repulsive Luttinger-Kac model): :func:`poisson_points`,
  :func:`poisson_obstacles`.
* Optical speckle with intensity correlation V_R^2 sinc^2(x / sigma_R): :func:`speckle`.
* Gaussian white noise <V(x) V(y)> = D delta(x - y): :func:`white_noise`.
* Aubry-Andre quasi-periodic potential lambda cos(2 pi beta n + phi): :func:`aubry_andre`.
* :func:`make_potential` dispatches by name (used by the sweep engine).

Declarations
------------
Each model is declared once, right after its generator, as a :class:`DisorderKind`: its name,
its parameters (:class:`Param`: type, allowed range, default, physical dimension) and an
adapter from the grid (M, points_per_unit) to the generator.  :data:`DISORDER_KINDS` collects
them; :func:`make_potential`, the sweep spec validation, the units of grid coordinates and the
README table (:func:`disorder_table`) all read these declarations.  Adding a model = one
generator + one ``declare_kind(DisorderKind(...))`` + its statistics test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Callable

import numpy as np

from .params import Param, ParamError, check_int

__all__ = [
    "uniform_cells", "gaussian_cells", "bernoulli_cells", "anderson", "lloyd",
    "poisson_points", "poisson_obstacles", "speckle", "speckle_correlation", "white_noise",
    "aubry_andre", "make_potential", "POTENTIAL_KINDS", "GOLDEN_MEAN",
    "DisorderKind", "DISORDER_KINDS", "declare_kind", "disorder_table",
]

#: (sqrt(5) - 1)/2, the default Aubry-Andre frequency beta
GOLDEN_MEAN = (math.sqrt(5.0) - 1.0) / 2.0


# --------------------------------------------------------------------------- validation helpers
def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng



def _check_real(name: str, value, minimum: float | None = None, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name}: must be a finite real number, got {value!r}")
    v = float(value)
    if minimum is not None and (v < minimum or (strict and v == minimum)):
        rel = ">" if strict else ">="
        raise ValueError(f"{name}: must be {rel} {minimum}, got {value!r}")
    return v


def _check_spacing(spacing) -> float:
    return _check_real("spacing", spacing, 0.0, strict=True)


def _expand_cells(values: np.ndarray, n_grid: int, cell_size: int) -> np.ndarray:
    """Value of cell i // cell_size at each grid point i (float64, C-contiguous)."""
    return np.ascontiguousarray(np.repeat(values, cell_size)[:n_grid], dtype=np.float64)


def _n_cells(n_grid: int, cell_size: int) -> int:
    return -(-n_grid // cell_size)  # a trailing partial cell gets its own value


# --------------------------------------------------------------------------- declarations
@dataclass(frozen=True)
class DisorderKind:
    """Declaration of a disorder model.

    ``draw(rng, n_grid, points_per_unit, **params)`` returns the (M,) potential from validated
    parameters (all of ``params`` present, defaults filled in).  ``lattice_only`` kinds need
    points_per_unit = 1.  ``constraint(params, spacing)`` checks what depends on the grid and
    raises :class:`ParamError`.
    """

    name: str
    params: tuple[Param, ...]
    draw: Callable[..., np.ndarray]
    doc: str
    lattice_only: bool = False
    constraint: Callable[[dict, float], None] | None = None

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def resolve(self, params: dict, points_per_unit: int = 1) -> dict:
        """Validated parameters with defaults filled in; :class:`ParamError` names the first
        bad one (unknown, missing, out of range, or a grid it does not fit)."""
        allowed = tuple(p.name for p in self.params)
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ParamError(unknown[0], f"not a parameter of potential kind {self.name!r}; "
                             f"allowed: {', '.join(allowed) or 'none'}")
        required = tuple(p.name for p in self.params if p.required)
        missing = [p for p in required if p not in params]
        if missing:
            raise ParamError(missing[0], f"required parameter of potential kind {self.name!r} "
                             f"is missing (required: {', '.join(required)})")
        ppu = check_int("points_per_unit", points_per_unit, 1)
        if self.lattice_only and ppu != 1:
            raise ParamError("points_per_unit", f"potential kind {self.name!r} is a lattice "
                             f"model and needs points_per_unit=1, got {points_per_unit!r}")
        out = {p.name: p.check(params[p.name]) if p.name in params else p.default
               for p in self.params}
        if self.constraint is not None:
            self.constraint(out, 1.0 / ppu)
        return out


#: name -> declaration, in declaration order (filled by :func:`declare_kind`)
DISORDER_KINDS: dict[str, DisorderKind] = {}


def declare_kind(kind: DisorderKind) -> DisorderKind:
    """Add a declaration to :data:`DISORDER_KINDS` (names are unique)."""
    if kind.name in DISORDER_KINDS or kind.name == "none":
        raise ValueError(f"kind: {kind.name!r} is already declared")
    DISORDER_KINDS[kind.name] = kind
    return kind


# --------------------------------------------------------------------------- iid per cell
def uniform_cells(rng: np.random.Generator, n_grid: int, cell_size: int, width: float,
                  mean: float = 0.0) -> np.ndarray:
    """Alloy-type potential, iid uniform in [mean - width/2, mean + width/2] per unit cell.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_grid : int
        Number of grid points M.
    cell_size : int
        Grid points per unit cell (continuum: ``points_per_unit``; lattice: 1).  V is constant on
        each cell I_n = [n, n+1).
    width : float
        Box width W >= 0 (energy units, hbar^2/2m = 1); variance W^2/12.
    mean : float
        Centre of the box.

    Returns
    -------
    (M,) float64 array.
    """
    _check_rng(rng)
    n_grid = check_int("n_grid", n_grid, 1)
    cell_size = check_int("cell_size", cell_size, 1)
    width = _check_real("width", width, 0.0)
    mean = _check_real("mean", mean)
    vals = mean + width * (rng.random(_n_cells(n_grid, cell_size)) - 0.5)
    return _expand_cells(vals, n_grid, cell_size)


declare_kind(DisorderKind(
    "uniform", (Param("width", "energy", "box width W (variance W^2/12)", minimum=0.0),
                Param("mean", "energy", "centre of the box", default=0.0)),
    lambda rng, m, ppu, width, mean: uniform_cells(rng, m, ppu, width, mean),
    "iid uniform in [mean - width/2, mean + width/2] per unit cell"))


def gaussian_cells(rng: np.random.Generator, n_grid: int, cell_size: int, sigma: float,
                   mean: float = 0.0) -> np.ndarray:
    """iid Gaussian N(mean, sigma^2) per unit cell (energy units), constant on each cell.

    Parameters as :func:`uniform_cells`, with the standard deviation ``sigma`` >= 0.
    """
    _check_rng(rng)
    n_grid = check_int("n_grid", n_grid, 1)
    cell_size = check_int("cell_size", cell_size, 1)
    sigma = _check_real("sigma", sigma, 0.0)
    mean = _check_real("mean", mean)
    vals = mean + sigma * rng.standard_normal(_n_cells(n_grid, cell_size))
    return _expand_cells(vals, n_grid, cell_size)


declare_kind(DisorderKind(
    "gaussian", (Param("sigma", "energy", "standard deviation", minimum=0.0),
                 Param("mean", "energy", "mean", default=0.0)),
    lambda rng, m, ppu, sigma, mean: gaussian_cells(rng, m, ppu, sigma, mean),
    "iid Gaussian N(mean, sigma^2) per unit cell"))


def bernoulli_cells(rng: np.random.Generator, n_grid: int, cell_size: int, a: float, b: float,
                    p: float) -> np.ndarray:
    """iid Bernoulli (binary alloy) per unit cell: value ``a`` with probability ``p``, else ``b``.

    Mean p a + (1 - p) b, variance p (1 - p) (a - b)^2 (energy units).  Other parameters as
    :func:`uniform_cells`.
    """
    _check_rng(rng)
    n_grid = check_int("n_grid", n_grid, 1)
    cell_size = check_int("cell_size", cell_size, 1)
    a = _check_real("a", a)
    b = _check_real("b", b)
    p = _check_real("p", p, 0.0)
    if p > 1.0:
        raise ValueError(f"p: must lie in [0, 1], got {p!r}")
    hit = rng.random(_n_cells(n_grid, cell_size)) < p
    return _expand_cells(np.where(hit, a, b), n_grid, cell_size)


declare_kind(DisorderKind(
    "bernoulli", (Param("a", "energy", "value with probability p"),
                  Param("b", "energy", "value with probability 1 - p"),
                  Param("p", "1", "probability of a", minimum=0.0, maximum=1.0)),
    lambda rng, m, ppu, a, b, p: bernoulli_cells(rng, m, ppu, a, b, p),
    "iid binary alloy per unit cell: a with probability p, else b"))


def anderson(rng: np.random.Generator, n_sites: int, W: float) -> np.ndarray:
    """Anderson model on the lattice: eps_i iid uniform in [-W/2, W/2] (units of the energy t).

    Same draws as ``uniform_cells(rng, n_sites, 1, W)``.
    """
    return uniform_cells(rng, check_int("n_sites", n_sites, 1), 1, _check_real("W", W, 0.0))


declare_kind(DisorderKind(
    "anderson", (Param("W", "energy", "eps_i uniform in [-W/2, W/2]", minimum=0.0),),
    lambda rng, m, ppu, W: anderson(rng, m, W),
    "Anderson model: on-site energies iid uniform in [-W/2, W/2]", lattice_only=True))


# --------------------------------------------------------------------------- Lloyd (Cauchy)
def lloyd(rng: np.random.Generator, n_sites: int, W: float) -> np.ndarray:
    """Lloyd model on the lattice: eps_i iid Cauchy, density (W/pi) / (eps^2 + W^2).

    Median 0, half width at half maximum W >= 0 (units of the hopping t); no mean or variance.
    Its Lyapunov exponent is known exactly at every energy, cosh gamma(E) =
    [sqrt((2 + E)^2 + W^2) + sqrt((2 - E)^2 + W^2)] / 4 for t = 1 (Thouless, J. Phys. C 5, 77
    (1972); Ishii, Prog. Theor. Phys. Suppl. 53, 77 (1973); docs/references.md section 4).
    Draws ``n_sites`` variates of ``rng.standard_cauchy``.
    """
    _check_rng(rng)
    n_sites = check_int("n_sites", n_sites, 1)
    W = _check_real("W", W, 0.0)
    return W * rng.standard_cauchy(n_sites)


declare_kind(DisorderKind(
    "lloyd", (Param("W", "energy", "Cauchy half width: density (W/pi)/(eps^2 + W^2)",
                    minimum=0.0),),
    lambda rng, m, ppu, W: lloyd(rng, m, W),
    "Lloyd model: on-site energies iid Cauchy of half width W", lattice_only=True))


# --------------------------------------------------------------------------- Poisson obstacles
def poisson_points(rng: np.random.Generator, length: float, density: float) -> np.ndarray:
    """Poisson point process of intensity ``density`` (points per unit length) on [0, length).

    Draws K ~ Poisson(density * length), then K uniform positions; returns them sorted.
    """
    _check_rng(rng)
    length = _check_real("length", length, 0.0, strict=True)
    density = _check_real("density", density, 0.0)
    k = int(rng.poisson(density * length))
    return np.sort(rng.uniform(0.0, length, k))


def poisson_obstacles(rng: np.random.Generator, n_grid: int, spacing: float, density: float,
                      height: float, profile_width: float = 0.0) -> np.ndarray:
    """Repulsive Poisson obstacles (Luttinger-Kac): V(x) = sum_j U(x - x_j), U >= 0.

    The centres x_j are :func:`poisson_points` on the ring of length L = M h.  Each obstacle adds
    ``height`` on n_w = max(1, round(profile_width / h)) consecutive grid points centred on the
    grid point nearest to x_j (periodic wrap); overlapping obstacles add up.  With the default
    ``profile_width = 0`` the profile is a single grid point: on the lattice a site impurity of
    strength U; in the continuum, ``height = g / h`` approximates g delta(x - x_j), and a large
    ``height`` approximates the hard-wall model whose integrated density of states is
    N(E) = rho / (exp(pi rho / sqrt(E)) - 1) (docs/references.md §3).

    Parameters
    ----------
    rng : numpy.random.Generator
    n_grid : int
        Number of grid points M.
    spacing : float
        Grid spacing h (lattice: 1).
    density : float
        rho >= 0, mean number of obstacles per unit length.
    height : float
        U >= 0 (energy units, hbar^2/2m = 1).
    profile_width : float
        Width of the box profile (length units); 0 means one grid point.

    Returns
    -------
    (M,) float64 array, V >= 0.
    """
    _check_rng(rng)
    n_grid = check_int("n_grid", n_grid, 1)
    h = _check_spacing(spacing)
    density = _check_real("density", density, 0.0)
    height = _check_real("height", height, 0.0)
    profile_width = _check_real("profile_width", profile_width, 0.0)
    pts = poisson_points(rng, n_grid * h, density)
    n_w = max(1, int(round(profile_width / h)))
    centre = np.rint(pts / h).astype(np.int64)
    idx = (centre[:, None] - (n_w - 1) // 2 + np.arange(n_w)[None, :]) % n_grid
    v = np.zeros(n_grid)
    np.add.at(v, idx.ravel(), height)
    return v


declare_kind(DisorderKind(
    "poisson", (Param("density", "1/length", "mean number of obstacles per unit length",
                      minimum=0.0),
                Param("height", "energy", "obstacle height U", minimum=0.0),
                Param("profile_width", "length", "box profile width (0: one grid point)",
                      default=0.0, minimum=0.0)),
    lambda rng, m, ppu, density, height, profile_width: poisson_obstacles(
        rng, m, 1.0 / ppu, density, height, profile_width),
    "repulsive Poisson obstacles (Luttinger-Kac)"))


# --------------------------------------------------------------------------- speckle
def _speckle_modes(n_grid: int, h: float, corr_length: float) -> np.ndarray:
    """FFT indices j (numpy order) of the ring modes k_j = 2 pi j / L with |k_j| <= 1/sigma_R."""
    length = n_grid * h
    jmax = int(math.floor(length / (2 * math.pi * corr_length) + 1e-12))
    return np.arange(-jmax, jmax + 1) % n_grid


def speckle(rng: np.random.Generator, n_grid: int, spacing: float, strength: float,
            corr_length: float) -> np.ndarray:
    """1-d optical speckle potential V = V_R (I / <I> - 1) on the ring, periodic.

    Convention (Billy et al., Nature 453, 891 (2008); Sanchez-Palencia et al., PRL 98, 210401
    (2007)): the field E(x) is a complex Gaussian random field whose spectrum is a box
    |k| <= 1/sigma_R (the 1-d image of a circular pupil), I = |E|^2, and

        <V> = 0,   <V(x) V(0)> = V_R^2 sinc^2(x / sigma_R),   sinc(u) = sin(u) / u,

    so the power spectrum of V is a triangle supported on |k| <= 2/sigma_R (Born mobility edge
    at k = 1/sigma_R).  On the ring the modes are k_j = 2 pi j / L, |k_j| <= 1/sigma_R, with iid
    complex Gaussian amplitudes of variance 1/K (K modes), so <I> = 1 exactly and the
    correlation is the discrete version V_R^2 |K^{-1} sum_j e^{i k_j x}|^2, which tends to
    sinc^2 as L / sigma_R -> infinity (see :func:`speckle_correlation`).  <I> is the ensemble
    mean, not the sample mean, so a single sample has a small nonzero spatial mean.
    V is one-sided: V >= -V_R for V_R > 0 (blue detuned, repulsive peaks), V <= |V_R| for
    V_R < 0 (red detuned, attractive wells); |V_R| is the standard deviation.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_grid : int
        Number of grid points M.
    spacing : float
        Grid spacing h (length units).
    strength : float
        V_R, either sign (energy units, hbar^2/2m = 1).
    corr_length : float
        sigma_R > 0 (length units).  Needs 2/sigma_R <= pi/h (the intensity spectrum below the
        grid's Nyquist wavenumber, no aliasing), i.e. sigma_R >= 2 h / pi.

    Returns
    -------
    (M,) float64 array.
    """
    _check_rng(rng)
    n_grid = check_int("n_grid", n_grid, 1)
    h = _check_spacing(spacing)
    strength = _check_real("strength", strength)
    corr_length = _check_real("corr_length", corr_length, 0.0, strict=True)
    if corr_length < 2 * h / math.pi:
        raise ValueError(f"corr_length: must be >= 2 h / pi = {2 * h / math.pi:.6g} so that the "
                         f"speckle spectrum is resolved by the grid, got {corr_length!r}")
    modes = _speckle_modes(n_grid, h, corr_length)
    k = modes.size
    amp = (rng.standard_normal(k) + 1j * rng.standard_normal(k)) / math.sqrt(2.0 * k)
    spec = np.zeros(n_grid, dtype=np.complex128)
    spec[modes] = amp
    field = np.fft.ifft(spec) * n_grid  # E(x_i) = sum_j a_j exp(i k_j x_i)
    intensity = field.real**2 + field.imag**2
    return np.ascontiguousarray(strength * (intensity - 1.0))


def _speckle_resolved(params: dict, spacing: float) -> None:
    if params["corr_length"] < 2 * spacing / math.pi:
        raise ParamError("corr_length", f"must be >= 2 h / pi = {2 * spacing / math.pi:.6g} "
                         "so that the speckle spectrum is resolved by the grid, got "
                         f"{params['corr_length']!r}")


declare_kind(DisorderKind(
    "speckle", (Param("strength", "energy", "V_R, either sign; abs(V_R) is the standard deviation"),
                Param("corr_length", "length", "sigma_R, <V(x)V(0)> = V_R^2 sinc^2(x/sigma_R)",
                      minimum=0.0, open_min=True)),
    lambda rng, m, ppu, strength, corr_length: speckle(rng, m, 1.0 / ppu, strength, corr_length),
    "1-d optical speckle V_R (I/<I> - 1)", constraint=_speckle_resolved))


def speckle_correlation(x, n_grid: int, spacing: float, strength: float,
                        corr_length: float) -> np.ndarray:
    """Exact ring autocorrelation <V(x) V(0)> of :func:`speckle` (energy^2 units).

    V_R^2 |K^{-1} sum_j exp(i k_j x)|^2 over the K retained modes; ~ V_R^2 sinc^2(x / sigma_R)
    for L >> sigma_R.
    """
    h = _check_spacing(spacing)
    length = n_grid * h
    jmax = int(math.floor(length / (2 * math.pi * corr_length) + 1e-12))
    kj = 2 * math.pi * np.arange(-jmax, jmax + 1) / length
    x = np.asarray(x, dtype=np.float64)
    g = np.mean(np.exp(1j * kj * x[..., None]), axis=-1)
    return strength**2 * np.abs(g) ** 2


# --------------------------------------------------------------------------- white noise
def white_noise(rng: np.random.Generator, n_grid: int, spacing: float, D: float) -> np.ndarray:
    """Gaussian white noise <V(x) V(y)> = D delta(x - y): iid N(0, D/h) at each grid point.

    D >= 0 has units energy^2 x length (hbar^2/2m = 1); the Halperin / Frisch-Lloyd exact
    results (docs/references.md §3) are stated for this normalization (there D is called sigma).
    """
    _check_rng(rng)
    n_grid = check_int("n_grid", n_grid, 1)
    h = _check_spacing(spacing)
    D = _check_real("D", D, 0.0)
    return math.sqrt(D / h) * rng.standard_normal(n_grid)


declare_kind(DisorderKind(
    "white_noise", (Param("D", "energy^2 length", "<V(x)V(y)> = D delta(x - y)", minimum=0.0),),
    lambda rng, m, ppu, D: white_noise(rng, m, 1.0 / ppu, D),
    "Gaussian white noise"))


# --------------------------------------------------------------------------- Aubry-Andre
def aubry_andre(rng: np.random.Generator, n_sites: int, lam: float, beta: float = GOLDEN_MEAN,
                phase: float | None = None) -> np.ndarray:
    """Aubry-Andre on-site energies eps_n = lam cos(2 pi beta n + phase), n = 0..M-1.

    Localized (gamma = ln(lam/2)) for lam > 2 t, extended for lam < 2 t, beta irrational.
    ``phase`` None draws phase uniform in [0, 2 pi) from ``rng`` (the only draw); otherwise rng
    is not used.  On a ring of finite length the potential is not periodic unless beta L is an
    integer (use a Fibonacci approximant beta = F_{k-1}/F_k with L = F_k for that).
    """
    _check_rng(rng)
    n_sites = check_int("n_sites", n_sites, 1)
    lam = _check_real("lam", lam)
    beta = _check_real("beta", beta)
    if phase is None:
        phase = rng.uniform(0.0, 2 * math.pi)
    phase = _check_real("phase", phase)
    return lam * np.cos(2 * math.pi * beta * np.arange(n_sites) + phase)


declare_kind(DisorderKind(
    "aubry_andre", (Param("lam", "energy", "amplitude lambda"),
                    Param("beta", "1", "frequency beta", default=GOLDEN_MEAN),
                    Param("phase", "rad", "phase; omitted: uniform in [0, 2 pi) from the sample's "
                          "generator", default=None, none_ok=True)),
    lambda rng, m, ppu, lam, beta, phase: aubry_andre(rng, m, lam, beta, phase),
    "Aubry-Andre quasi-periodic eps_n = lam cos(2 pi beta n + phase)", lattice_only=True))


# --------------------------------------------------------------------------- dispatcher
#: names accepted by :func:`make_potential`, in declaration order
POTENTIAL_KINDS: tuple[str, ...] = tuple(DISORDER_KINDS)


def make_potential(kind: str, rng: np.random.Generator, n_grid: int, points_per_unit: int = 1,
                   **params) -> np.ndarray:
    """Draw a potential of model ``kind`` on the grid of a ring with M = ``n_grid`` points.

    Parameters
    ----------
    kind : str
        A name in :data:`DISORDER_KINDS` (parameters: see :func:`disorder_table`).
    rng : numpy.random.Generator
    n_grid : int
        Number of grid points M.
    points_per_unit : int
        Grid points per unit length (1 on the lattice); the cell size of the iid-cell models
        and 1/h of the continuum-field models.
    **params
        The model's parameters, see its declaration and generator function.

    Raises
    ------
    ValueError
        Unknown ``kind``, unknown or missing parameter (named in the message), or a parameter out
        of range; lattice-only kinds with points_per_unit != 1 (:class:`ParamError`).
    """
    decl = DISORDER_KINDS.get(kind)
    if decl is None:
        raise ParamError("kind", f"must be one of {', '.join(map(repr, POTENTIAL_KINDS))}, "
                         f"got {kind!r}")
    _check_rng(rng)
    kw = decl.resolve(params, points_per_unit)
    return decl.draw(rng, n_grid, int(points_per_unit), **kw)


def disorder_table() -> str:
    """Markdown table of every declared kind and its parameters (the README's table)."""
    rows = ["| kind | parameter | allowed | default | dimension | meaning |",
            "|---|---|---|---|---|---|"]
    for decl in DISORDER_KINDS.values():
        head = f"`{decl.name}`" + (" (lattice)" if decl.lattice_only else "")
        for i, p in enumerate(decl.params):
            default = "required" if p.required else ("omitted" if p.default is None
                                                     else f"{p.default:.6g}")
            rows.append(f"| {head if i == 0 else ''} | `{p.name}` | {p.allowed()} | {default} | "
                        f"{p.dimension} | {p.doc} |")
    return "\n".join(rows)
