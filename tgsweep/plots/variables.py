"""Generic figures of any tgsweep store: one PNG per observable family, drawn from the layout.

Every per-sample variable carrying an ``observable`` attribute is classified first:

- *flags* (integer 0/1 values, e.g. ``stiffness_reliable``) are not drawn; the figure's notes
  say how many valid samples have the flag set;
- *fixed* variables (the same in every sample and grid point: geometry such as
  ``cell_distance``, or ``k`` on ``k_index``) are not drawn; a fixed, strictly monotonic
  variable along one dimension becomes that dimension's axis (so ``n_k`` is drawn against
  ``k``), and fixed scalars are quoted in the notes;
- ``X`` is not drawn when ``log10_X`` is stored (the log10 is resolved below float underflow),
  and a variable equal to one drawn before (``stiffness_energy0`` = ``energy``) is named in the
  notes instead of repeated.

The rest is drawn as the mean over valid samples (status 1) with the standard error, all grid
points of the store in the same panel (one colour per grid point, one legend per figure; at
most :data:`MAX_SERIES`, evenly chosen).  Scalars: against the grid axis with the most points
(the individual samples as faint dots); one grid point: a histogram of the samples.  Profiles:
against their longest continuous dimension; the other small dimensions (``sigma``, ``twist``,
``window``) make separate panels.  Categorical values (windows, modes, two twists) get markers
only, never joining lines.  Axis labels come from ``long_name`` and ``units``; an axis is
logarithmic when its positive values span more than 1.5 decades (and none is a rounding zero;
all panels of one variable alike; :func:`tidy_log_axes` writes plain numbers such as 0.2 and 5
on log axes spanning less than 2.5 decades);
angles in rad that are multiples of pi/4 are written with pi.  Panels are wrapped in a grid of
at most :data:`NCOLS` columns.  ``n_k`` gets a second panel k^4 n(k) against k > 0 (the clean
tail tends to 4 n e_kin = (4 pi^2/3) n^4 (1 - 1/N^2) on a ring of N, Olshanii & Dunjko, PRL 91,
090401 (2003), approached slowly: see :func:`tgsweep.plots.workflows.fig_momentum_distribution`).

Means and errors come from the store's ``summary`` group when it holds them, else from
:func:`tgsweep.sweep.store.summarize`.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..sweep.store import open_dataset, summarize

__all__ = ["plot_variables", "classify", "pretty", "pretty_units", "unit_of", "axis_label", "format_value",
           "tidy_log_axes",
           "MAX_SERIES", "NCOLS", "DERIVED"]

MAX_SERIES = 8   # grid points (or combinations) drawn per panel
NCOLS = 3        # panels per row
MAX_SPLIT = 6    # panels per variable from splitting small dimensions
PANEL_W, PANEL_H = 4.3, 3.2  # inches per panel
DECADES_RATIO = 30.0  # positive data with max/min above this (1.5 decades) get a log axis

#: extra panels derived from a variable and its axis: name -> (label, units of the axis -> units,
#: f(x, y) -> y', mask(x), what the mask keeps)
DERIVED = {
    "n_k": ("k^4 n(k)", lambda u: "1" if u in ("", "1") else (
        f"{u[:-3]}^-4" if u.endswith("^-1") else f"({u})^4"),
            lambda x, y: x ** 4 * y, lambda x: x > 0, "k > 0"),
}

_GREEK = {"lambda": "λ", "sigma": "σ", "rho": "ρ", "mu": "μ", "theta": "θ", "phi": "φ",
          "gamma": "γ", "pi": "π", "hbar": "ħ", "xi": "ξ", "eps": "ε", "epsilon": "ε",
          "omega": "ω", "Gamma": "Γ", "Phi": "Φ", "Delta": "Δ", "kappa": "κ", "ell": "ℓ",
          "lam": "λ"}
_SUP = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
#: letters with a Unicode subscript form (all in DejaVu Sans, matplotlib's default font)
_SUB_LETTERS = dict(zip("aehijklmnoprstuvx", "ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
_SUB_ALL = {**{str(d): "₀₁₂₃₄₅₆₇₈₉"[d] for d in range(10)}, **_SUB_LETTERS}
# a one-letter symbol (or sup/inf/max/min) with a short subscript: N_tr, rho_s0, sup_t, x_j;
# never inside a variable name (no letter, digit or underscore right before or after)
_SYMBOL_SUB = re.compile(r"(?<![A-Za-z0-9_])(sup|inf|max|min|[A-Za-zα-ωΑ-Ωħ])_([a-z0-9]{1,3})"
                         r"(?![A-Za-z0-9_])")


def _symbol_sub(m) -> str:
    sub = m.group(2)
    if all(c in _SUB_ALL for c in sub):
        return m.group(1) + "".join(_SUB_ALL[c] for c in sub)
    return m.group(0)


def pretty(text: str) -> str:
    """Plain-text formulas of long names -> Unicode: Greek names, ^2 and _0 as super/subscripts,
    short letter subscripts of one-letter symbols (N_tr -> Nₜᵣ, rho_s -> ρₛ, sup_t -> supₜ),
    K^c -> Kᶜ, N+ / N- -> N⁺ / N⁻, ``log10`` -> log₁₀, ``->`` -> →, ``inf`` -> ∞, ``||`` -> ‖,
    `` - `` -> −,
    ``<=`` as ≤.  Words that merely contain a Greek name are left alone, and so are variable
    names (``log10_rho_s``: nothing but the Greek name changes).  Matplotlib mathtext between
    ``$`` signs is left as it is."""
    parts = str(text).split("$")
    if len(parts) > 2 and len(parts) % 2:  # "...$math$...": only the text outside the $ pairs
        return "$".join(p if i % 2 else _pretty_text(p) for i, p in enumerate(parts))
    return _pretty_text(str(text))


def _pretty_text(s: str) -> str:
    for name, ch in _GREEK.items():
        s = re.sub(rf"(?<![A-Za-z]){name}(?![A-Za-z])", ch, s)
    s = re.sub(r"\^(-?\d+)", lambda m: m.group(1).translate(_SUP), s)
    s = re.sub(r"\^c(?![A-Za-z0-9])", "ᶜ", s)
    s = re.sub(r"(?<![A-Za-z0-9_])([A-Z])([+-])(?=[:,;)\s]|$)",  # N+, N- -> N⁺, N⁻
               lambda m: m.group(1) + ("⁺" if m.group(2) == "+" else "⁻"), s)
    s = re.sub(r"(?<![A-Za-z0-9_])log10(?![A-Za-z0-9_])", "log₁₀", s)
    s = _SYMBOL_SUB.sub(_symbol_sub, s)
    s = re.sub(r"_(\d)(?!\d)", lambda m: m.group(1).translate(_SUB), s)
    s = re.sub(r"(?<![A-Za-z_])inf(?![A-Za-z0-9_])", "∞", s)
    s = s.replace("->", "→").replace("||", "‖").replace(" - ", " − ")
    return s.replace("<=", "≤").replace(">=", "≥")


def unit_of(attrs) -> str:
    """The unit to show for a variable or coordinate: its ``natural_units`` (the unit of the
    system the number is in: "a", "hbar^2/(2 m a^2)", ...) when stored, else ``units``."""
    attrs = getattr(attrs, "attrs", attrs)
    return attrs.get("natural_units", attrs.get("units", "")) or ""


def pretty_units(units: str) -> str:
    """Units for a label: '' for dimensionless ('1' or none), glosses such as
    ', a = unit length' or ' (unit length)' dropped, then :func:`pretty`."""
    u = (units or "").strip()
    if u in ("", "1"):
        return ""
    u = re.sub(r",\s*a\s*=\s*unit length", "", u)
    u = re.sub(r"\s*\(unit length\)", "", u)
    return pretty(u).strip()


def _split_top(s: str, sep: str) -> str:
    """The part of ``s`` before the first ``sep`` outside brackets (or ``s``)."""
    depth = 0
    for i, ch in enumerate(s):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and s.startswith(sep, i):
            return s[:i]
    return s


def _short(long_name: str) -> str:
    """The head of a long name: before ' = ', then before ', ' or '; ' (if long enough), never
    cutting inside brackets."""
    s = long_name
    for sep in (" = ", ", ", "; "):
        head = _split_top(s, sep)
        if len(head) >= 6:
            s = head
    return s


def axis_label(var_or_attrs, name: str | None = None, width: int = 40) -> str:
    """'<short long_name> [<units>]' (wrapped); the name when there is no long_name."""
    attrs = getattr(var_or_attrs, "attrs", var_or_attrs)
    name = name or getattr(var_or_attrs, "name", "")
    text = pretty(_short(attrs.get("long_name", name) or name))
    u = pretty_units(unit_of(attrs))
    text = f"{text} [{u}]" if u else text
    return "\n".join(textwrap.wrap(text, width)) or str(name)


def format_value(v, units: str = "") -> str:
    """A coordinate value for legends and titles: angles in rad that are multiples of pi/4 as
    0, π/4, π/2, 3π/4, π, ...; other numbers with 3 significant digits."""
    if isinstance(v, (str, bytes)) or not np.issubdtype(np.asarray(v).dtype, np.number):
        return str(v)
    v = float(v)
    if units == "rad":
        q = v / (math.pi / 4)
        if abs(q - round(q)) < 1e-9:
            q = int(round(q))
            if q == 0:
                return "0"
            num, den = (q, 4) if q % 2 else ((q // 2, 2) if q % 4 else (q // 4, 1))
            sgn = "−" if num < 0 else ""
            num = abs(num)
            return f"{sgn}{'' if num == 1 else num}π" + (f"/{den}" if den > 1 else "")
    return f"{v:.3g}"


# ================================================================================ classification
@dataclass
class Plan:
    """What :func:`classify` decided for the variables of one store."""
    families: dict = field(default_factory=dict)   # family -> [names drawn]
    notes: dict = field(default_factory=dict)      # family -> [note lines]
    axes: dict = field(default_factory=dict)       # dim -> (values, attrs) from a fixed variable
    skipped: dict = field(default_factory=dict)    # name -> reason


def _grid_dims(ds) -> list[str]:
    return [d for d in ds["status"].dims if d != "sample"]


def _valid(ds):
    return ds["status"] == 1


def _monotonic(v: np.ndarray) -> bool:
    d = np.diff(v)
    return v.size > 1 and bool(np.all(d > 0) or np.all(d < 0))


def classify(ds, summ) -> Plan:
    """Sort the store's per-sample variables into drawn / flag / fixed / duplicate (see the
    module docstring)."""
    plan = Plan()
    gdims = _grid_dims(ds)
    ok = _valid(ds)
    n_ok = int(ok.sum())
    fams: dict[str, list[str]] = {}
    for name, v in ds.data_vars.items():
        if "observable" in v.attrs and "sample" in v.dims:
            fams.setdefault(v.attrs["observable"], []).append(name)
    # small (basic) families first, so that a quantity repeated elsewhere is drawn where it
    # belongs (energy before stiffness_energy0, n_particles before dyn_n_particles)
    order = sorted(fams, key=lambda f: (len(fams[f]), f))
    drawn_means: list[tuple[str, np.ndarray]] = []
    for fam in order:
        names = []
        notes = plan.notes.setdefault(fam, [])
        for name in fams[fam]:
            var = ds[name]
            odims = [d for d in var.dims if d not in gdims and d != "sample"]
            numeric = var.dtype.kind in "fiub"
            # reductions over valid samples and grid points (chunked: never the whole array)
            if numeric and n_ok:
                v = var.where(ok)
                lo = np.asarray(v.min([*gdims, "sample"]).values, float)
                hi = np.asarray(v.max([*gdims, "sample"]).values, float)
            if numeric and n_ok and var.dtype.kind in "iub" and np.isfinite(lo).any() \
                    and lo[np.isfinite(lo)].min() >= 0 and hi[np.isfinite(hi)].max() <= 1:
                k = int((v.fillna(0) != 0).any(odims).sum()) if odims else int(v.sum())
                notes.append(f"{name} (flag: {pretty(_short(var.attrs.get('long_name', '')))})"
                             f" = 1 in {k} of {n_ok} valid samples")
                plan.skipped[name] = "flag"
                continue
            if f"log10_{name}" in ds.data_vars:
                notes.append(f"{name}: drawn as log10_{name}")
                plan.skipped[name] = "log10 drawn"
                continue
            if numeric and n_ok:
                fixed = bool(np.all((lo == hi) | (np.isnan(lo) & np.isnan(hi))))
                if fixed and len(odims) == 1 and _monotonic(lo):
                    plan.axes[odims[0]] = (lo, dict(var.attrs), name)
                    plan.skipped[name] = f"axis of {odims[0]}"
                    continue
                if fixed and n_ok >= 2:
                    if odims:
                        notes.append(f"{name}: fixed (the same in every sample), not data")
                    else:
                        u = pretty_units(unit_of(var))
                        notes.append(f"{name} = {format_value(lo.item())}"
                                     f"{' ' + u if u else ''} in every sample")
                    plan.skipped[name] = "fixed"
                    continue
            mean = summ[f"{name}_mean"].values if f"{name}_mean" in summ else None
            dup = None
            if mean is not None:
                for other, m in drawn_means:
                    if m.shape == mean.shape and np.allclose(m, mean, rtol=1e-12, atol=0,
                                                             equal_nan=True):
                        dup = other
                        break
            if dup is not None:
                notes.append(f"{name} = {dup} (drawn there)")
                plan.skipped[name] = f"duplicate of {dup}"
                continue
            if mean is not None:
                drawn_means.append((name, mean))
            names.append(name)
        plan.families[fam] = names
    return plan


# ================================================================================ drawing helpers
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _coord_info(ds, dim, plan: Plan):
    """(values, attrs, categorical, labels) of the axis of ``dim``."""
    if dim in plan.axes:
        vals, attrs, _ = plan.axes[dim]
        return vals, attrs, False, None
    # a numeric non-index coordinate along dim (e.g. k on k_index once stored as coordinate)
    for c, cv in ds.coords.items():
        if c != dim and cv.dims == (dim,) and np.issubdtype(cv.dtype, np.number) \
                and _monotonic(np.asarray(cv.values, float)):
            return np.asarray(cv.values, float), dict(cv.attrs), False, None
    # a fixed variable along dim without samples (k on k_index as the store writes it)
    for n, v in ds.data_vars.items():
        if v.dims == (dim,) and np.issubdtype(v.dtype, np.number) and \
                not n.endswith(("_lo", "_hi")) and _monotonic(np.asarray(v.values, float)):
            return np.asarray(v.values, float), dict(v.attrs), False, None
    if dim in ds.coords:
        cv = ds[dim]
        vals = np.asarray(cv.values)
        attrs = dict(cv.attrs)
    else:
        vals = np.arange(ds.sizes[dim])
        attrs = {"long_name": dim}
    numeric = np.issubdtype(vals.dtype, np.number)
    # an index (mode 0, 1, ...; window 0, 1): dimensionless integers 0..n-1; a distance in
    # units a or sites is a physical axis even when it takes integer values
    index_like = numeric and np.issubdtype(vals.dtype, np.integer) and np.array_equal(
        vals, np.arange(vals.size)) and unit_of(attrs) in ("", "1")
    categorical = (not numeric) or vals.size <= 2 or (index_like and vals.size < 8)
    labels = None
    # fixed per-dimension variables without samples label categorical values (energy windows)
    fixed = [n for n, v in ds.data_vars.items() if v.dims == (dim,)]
    lo = [n for n in fixed if n.endswith("_lo")]
    if categorical and lo and lo[0][:-3] + "_hi" in fixed:
        lov, hiv = ds[lo[0]].values, ds[lo[0][:-3] + "_hi"].values
        labels = [f"[{format_value(a)}, {format_value(b)}]" for a, b in zip(lov, hiv)]
        attrs = {"long_name": pretty(_short(ds[lo[0]].attrs.get("long_name", dim)).replace(
            "lower edge of the ", "")), "units": unit_of(ds[lo[0]])}
    elif categorical:
        labels = [format_value(v, unit_of(attrs)) for v in vals]
    return (np.asarray(vals, float) if numeric else np.arange(vals.size)), attrs, categorical, \
        labels


def _dim_name(ds, d) -> str:
    attrs = ds[d].attrs if d in ds.coords else {}
    ln = attrs.get("long_name", d)
    ln = ln.replace("grid parameter ", "")
    return pretty(_short(ln))


def _grid_series(ds, gdims):
    """[(selection dict, label)] over grid-point combinations (at most MAX_SERIES, evenly
    chosen), legend title, and the total number of combinations."""
    sizes = [ds.sizes[d] for d in gdims]
    combos = list(np.ndindex(*sizes)) if gdims else [()]
    total = len(combos)
    if total > MAX_SERIES:
        pick = np.unique(np.linspace(0, total - 1, MAX_SERIES).round().astype(int))
        combos = [combos[i] for i in pick]
    out = []
    for idx in combos:
        sel = dict(zip(gdims, idx))
        parts = []
        for d, i in sel.items():
            u = unit_of(ds[d]) if d in ds.coords else ""
            v = ds[d].values[i] if d in ds.coords else i
            parts.append(format_value(v, u))
        out.append((sel, ", ".join(parts)))
    title = ", ".join(
        _dim_name(ds, d) + (f" [{pretty_units(unit_of(ds[d]))}]"
                            if d in ds.coords and pretty_units(unit_of(ds[d]))
                            else "") for d in gdims)
    return out, title, total


def _positive_decades(values) -> bool:
    """True when all finite values are > 0, none is a rounding zero (< 1e-12 max) and
    max/min > :data:`DECADES_RATIO`."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size < 2 or np.any(v <= 0):
        return False
    return v.min() > 1e-12 * v.max() and v.max() / v.min() > DECADES_RATIO


def _set_pi_ticks(axis, vals, units):
    if units == "rad" and all(format_value(v, "rad").find("π") >= 0 or v == 0 for v in vals):
        axis.set_ticks(vals)
        axis.set_ticklabels([format_value(v, "rad") for v in vals])


def _plain(v, _pos=None) -> str:
    return f"{v:g}"


def tidy_log_axes(fig) -> None:
    """Readable log axes: where an axis spans less than 2.5 decades within [1e-3, 1e4], plain
    numbers ("0.2", "5") instead of 2×10⁻¹, with minor labels at 2 and 5 (more below 1.3
    decades); elsewhere the default powers of ten without minor labels.  Axes with fixed ticks
    (ring lengths) are left alone."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    for ax in fig.axes:
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if axis.get_scale() != "log" or isinstance(axis.get_major_locator(), FixedLocator):
                continue
            lo, hi = sorted(lim)
            if not (lo > 0 and np.isfinite(hi)):
                continue
            span = math.log10(hi / lo)
            if span < 2.5 and lo >= 1e-3 and hi <= 1e4:
                axis.set_major_formatter(FuncFormatter(_plain))
                digits = "23456789" if span < 0.7 else ("235" if span < 1.3 else "25")
                axis.set_minor_formatter(FuncFormatter(
                    lambda v, _p, d=digits: _plain(v) if f"{v:.0e}"[0] in d else ""))
            else:
                axis.set_minor_formatter(NullFormatter())


# ================================================================================ panels
@dataclass
class Panel:
    name: str
    title: str
    ylabel: str
    xlabel: str
    draw: object   # callable(ax, colors) -> list of y arrays drawn (for the log decision)
    xlog: bool = False
    categorical: tuple | None = None  # (positions, labels)
    derived: bool = False  # a panel of DERIVED (its own y-scale decision)


def _scalar_panels(ds, summ, name, gdims, plan) -> list[Panel]:
    var = ds[name]
    ok = _valid(ds)
    ylabel = axis_label(var)
    if not gdims or all(ds.sizes[d] == 1 for d in gdims):
        vals = np.asarray(var.where(ok).values, float).ravel()
        vals = vals[np.isfinite(vals)]

        def draw(ax, colors, vals=vals):
            ax.hist(vals, bins=min(20, max(5, vals.size // 2)), color=colors[0], alpha=0.8)
            ax.set_ylabel("samples")
            if vals.size:
                se = vals.std(ddof=1) / math.sqrt(vals.size) if vals.size > 1 else float("nan")
                ax.set_title(f"mean {vals.mean():.4g} ± {se:.2g}", fontsize=8)
            return []

        return [Panel(name, "", "samples", ylabel, draw)]
    xd = max(gdims, key=lambda d: (ds.sizes[d], -gdims.index(d)))
    rest = [d for d in gdims if d != xd]
    xv, xattrs, cat, labels = _coord_info(ds, xd, plan)
    series, ltitle, total = _grid_series(ds, rest)
    mean, err = summ[f"{name}_mean"], summ[f"{name}_stderr"]
    raw = var.where(ok)

    def draw(ax, colors):
        ys = []
        n = len(series)
        for j, (sel, lab) in enumerate(series):
            c = colors[j % len(colors)]
            # one series: colour each grid point as the profiles of the same figure do
            pc = [colors[i % len(colors)] for i in range(xv.size)] if n == 1 else [c] * xv.size
            m = np.asarray(mean.isel(sel).transpose(xd).values, float)
            e = np.nan_to_num(np.asarray(err.isel(sel).transpose(xd).values, float))
            off = (j - (n - 1) / 2) * 0.06 * (np.ptp(xv) / max(xv.size - 1, 1) if xv.size > 1
                                              else 1.0)
            x = xv + (off if cat or xv.size < 3 else 0.0)
            samples = np.asarray(raw.isel(sel).transpose(xd, "sample").values, float)
            for i in range(x.size):
                s = samples[i][np.isfinite(samples[i])]
                ax.plot(np.full(s.size, x[i]), s, ".", color=pc[i], alpha=0.25, ms=3,
                        zorder=1)
            if not cat and xv.size >= 3:
                ax.plot(x, m, "-", lw=1, color=c if n > 1 else "0.5", zorder=2)
            for i in range(x.size):
                ax.errorbar(x[i:i + 1], m[i:i + 1], yerr=e[i:i + 1], fmt="o", ms=4, capsize=3,
                            color=pc[i], label=(lab or None) if i == 0 else None, zorder=3)
            ys.append(m)
        return ys

    title = f"{total} grid points" if total > len(series) else ""
    xlabel = _dim_name(ds, xd)
    if pretty_units(unit_of(xattrs)):
        xlabel += f" [{pretty_units(unit_of(xattrs))}]"
    return [Panel(name, title, ylabel, xlabel, draw,
                  xlog=(not cat) and _positive_decades(xv) and xv.size >= 3,
                  categorical=(xv, labels) if (cat or xv.size < 3) else None)]


def _profile_panels(ds, summ, name, gdims, plan) -> list[Panel]:
    var = ds[name]
    odims = [d for d in var.dims if d not in gdims and d != "sample"]
    info = {d: _coord_info(ds, d, plan) for d in odims}
    cont = [d for d in odims if not info[d][2]]
    pool = cont or odims
    xd = max(pool, key=lambda d: (ds.sizes[d], odims.index(d)))
    xv, xattrs, cat, labels = info[xd]
    others = [d for d in odims if d != xd]
    series, ltitle, total = _grid_series(ds, gdims)
    mean = summ[f"{name}_mean"]
    err = summ[f"{name}_stderr"]
    ylabel = axis_label(var)
    xlabel = axis_label(xattrs, xd)

    def sel_text(pick):
        parts = []
        for d, i in pick.items():
            _, at, _, labs = info[d]
            u = unit_of(at)
            v = labs[i] if labs else format_value(ds[d].values[i] if d in ds.coords else i, u)
            parts.append(f"{pretty(d)} = {v}")
        return ", ".join(parts)

    panels = []
    if not cat:
        combos = list(np.ndindex(*[ds.sizes[d] for d in others])) if others else [()]
        shown = combos[:MAX_SPLIT]
        for idx in shown:
            pick = dict(zip(others, idx))

            def draw(ax, colors, pick=pick):
                ys = []
                for j, (sel, lab) in enumerate(series):
                    c = colors[j % len(colors)]
                    m = np.real(np.asarray(mean.isel({**sel, **pick}).transpose(xd).values,
                                           float))
                    e = np.nan_to_num(np.real(np.asarray(
                        err.isel({**sel, **pick}).transpose(xd).values, float)))
                    ax.plot(xv, m, "-", marker="." if xv.size < 40 else None, ms=4, lw=1.2,
                            color=c, label=lab or None)
                    ax.fill_between(xv, m - e, m + e, color=c, alpha=0.2, lw=0)
                    ys.append(m)
                return ys

            title = sel_text(pick)
            if len(combos) > len(shown) and idx == shown[-1]:
                title += f" ({len(shown)} of {len(combos)} shown)"
            panels.append(Panel(name, title, ylabel, xlabel, draw,
                                xlog=_positive_decades(xv) and xv.min() > 0))
            if name in DERIVED and not others:
                dlab, dunits, f, mask, kept = DERIVED[name]
                u = dunits(unit_of(xattrs))

                def draw_d(ax, colors, f=f, mask=mask):
                    ys = []
                    keep = mask(xv)
                    for j, (sel, lab) in enumerate(series):
                        c = colors[j % len(colors)]
                        m = np.asarray(mean.isel(sel).transpose(xd).values, float)
                        e = np.nan_to_num(np.asarray(err.isel(sel).transpose(xd).values, float))
                        x = xv[keep]
                        y, ye = f(x, m[keep]), f(x, e[keep])
                        ax.plot(x, y, "-", marker="." if x.size < 40 else None, ms=4, lw=1.2,
                                color=c, label=lab or None)
                        ax.fill_between(x, y - ye, y + ye, color=c, alpha=0.2, lw=0)
                        ys.append(y)
                    return ys

                panels.append(Panel(name, f"{pretty(dlab)}, {kept} (tail)", axis_label(
                    {"long_name": dlab, "units": u}), xlabel, draw_d, derived=True))
        return panels
    # categorical x: markers only; the other dimensions become more series
    combos = list(np.ndindex(*[ds.sizes[d] for d in others])) if others else [()]
    allser = [(sel, lab, dict(zip(others, idx))) for idx in combos for sel, lab in series]
    allser = allser[:MAX_SERIES * 2]

    def draw(ax, colors):
        ys = []
        n = len(allser)
        markers = "osD^v<>p"
        for j, (sel, lab, pick) in enumerate(allser):
            gi = next(k for k, (s, _) in enumerate(series) if s == sel)
            oi = combos.index(tuple(pick[d] for d in others)) if others else 0
            m = np.asarray(mean.isel({**sel, **pick}).transpose(xd).values, float)
            e = np.nan_to_num(np.asarray(err.isel({**sel, **pick}).transpose(xd).values, float))
            x = np.arange(xv.size) + (j - (n - 1) / 2) * min(0.6 / n, 0.12)
            extra = sel_text(pick)
            label = ", ".join(t for t in (lab, extra) if t) or None
            ax.errorbar(x, m, yerr=e, fmt=markers[oi % len(markers)], ms=4, capsize=3,
                        color=colors[gi % len(colors)], label=label if others else (lab or None))
            ys.append(m)
        return ys

    return [Panel(name, "", ylabel, xlabel, draw,
                  categorical=(np.arange(xv.size), labels or [format_value(v) for v in xv]))]


def _family_figure(ds, summ, fam, names, notes, plan, outdir) -> str | None:
    plt = _plt()
    gdims = _grid_dims(ds)
    panels: list[Panel] = []
    for name in names:
        var = ds[name]
        odims = [d for d in var.dims if d not in gdims and d != "sample"]
        panels += (_profile_panels if odims else _scalar_panels)(ds, summ, name, gdims, plan)
    if not panels:
        return None
    n = len(panels)
    ncols = min(NCOLS, n)
    nrows = math.ceil(n / ncols)
    series, ltitle, total = _grid_series(ds, gdims)
    fig = plt.figure(figsize=(PANEL_W * ncols, PANEL_H * nrows + 0.9 + 0.18 * len(notes)),
                     layout="constrained")
    axs = fig.subplots(nrows, ncols, squeeze=False).ravel()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    legend_src = None
    drawn = [pan.draw(ax, colors) for ax, pan in zip(axs, panels)]
    # one y-scale decision per variable (all its panels alike), from all the means it shows
    by_key: dict = {}
    for pan, ys in zip(panels, drawn):
        by_key.setdefault((pan.name, pan.derived), []).extend(
            np.ravel(y) for y in ys)
    logy = {k: bool(v) and _positive_decades(np.concatenate(v)) for k, v in by_key.items()}
    for ax, pan in zip(axs, panels):
        ax.set_gid(pan.name)  # which variable the panel draws
        if pan.xlog:
            ax.set_xscale("log")
        if logy[(pan.name, pan.derived)]:
            ax.set_yscale("log")
        if pan.categorical is not None:
            pos, labels = pan.categorical
            if labels is not None:
                ax.set_xticks(pos)
                ax.set_xticklabels(labels, fontsize=8)
            if len(pos) > 0:
                ax.set_xlim(np.min(pos) - 0.5 * max(np.ptp(pos) / max(len(pos) - 1, 1), 1e-9),
                            np.max(pos) + 0.5 * max(np.ptp(pos) / max(len(pos) - 1, 1), 1e-9))
        ax.set_xlabel(pan.xlabel, fontsize=8)
        ax.set_ylabel(pan.ylabel, fontsize=8)
        ax.tick_params(which="both", labelsize=7)
        if pan.title:
            ax.set_title(pan.title, fontsize=8)
        handles, labels = ax.get_legend_handles_labels()
        own = [lab for lab in labels if lab not in {s[1] for s in series}]
        if own:
            ax.legend(fontsize=6)
        elif handles and legend_src is None:
            legend_src = (ax, handles, labels)
    for ax in axs[n:]:
        ax.set_visible(False)
    n_ok = _valid(ds).sum("sample").values
    nrange = f"{int(n_ok.min())}" if np.ndim(n_ok) == 0 or n_ok.min() == n_ok.max() else \
        f"{int(n_ok.min())}-{int(n_ok.max())}"
    sup = (f"{pretty(fam)}: mean ± standard error over {nrange} valid samples"
           + (f" per grid point; {total} grid points" if gdims else ""))
    fig.suptitle(textwrap.fill(sup, int(11 * PANEL_W * ncols)), fontsize=10)
    if legend_src is not None and len(series) > 1:
        legend_src[0].legend(*legend_src[1:], title=ltitle, fontsize=7, title_fontsize=7)
    if notes:
        # variable names stay as stored; the long names in the notes are pretty already
        fig.supxlabel("\n".join(textwrap.fill(t, 150) for t in notes), fontsize=7,
                      ha="left", x=0.01)
    tidy_log_axes(fig)
    outdir.mkdir(parents=True, exist_ok=True)
    fn = outdir / f"{fam}.png"
    fig.savefig(fn, dpi=100)
    plt.close(fig)
    return str(fn)


def _summary(ds, path=None):
    if path is not None:
        try:
            return open_dataset(path, group="summary").load()
        except (FileNotFoundError, KeyError, OSError, ValueError):
            pass
    return summarize(ds).load()


def plot_variables(store, outdir) -> list[str]:
    """One PNG per observable family of a store (path or Dataset) into ``outdir``
    (``<family>.png``); returns the file names.  See the module docstring for what is drawn."""
    path = None
    if isinstance(store, (str, Path)):
        path = store
        ds = open_dataset(store)
    else:
        ds = store
    summ = _summary(ds, path)
    missing = [n for n in ds.data_vars if "sample" in ds[n].dims and f"{n}_mean" not in summ
               and n not in ("status", "error", "done")]
    if missing:  # a summary group of an older layout: recompute
        summ = summarize(ds).load()
    plan = classify(ds, summ)
    outdir = Path(outdir)
    files = []
    for fam, names in plan.families.items():
        fn = _family_figure(ds, summ, fam, names, plan.notes.get(fam, []), plan, outdir)
        if fn is not None:
            files.append(fn)
    return files
