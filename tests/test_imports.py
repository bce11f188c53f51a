"""Import hygiene of the package, read from the source (ast), not by importing it.

The layers run one way, threads -> models -> core -> observables -> sweep -> (plots, cli): a
module-level import never goes up; there is no import cycle; no module imports a ``_private``
name (or a private kernel module) of another subpackage; and the physics and sweep layers have
no function-level imports of tgsweep modules (the usual way of hiding a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "tgsweep"
RANK = {"threads": -1, "models": 0, "core": 1, "observables": 2, "sweep": 3}
TOP_RANK = 4  # cli.py, plots/
NO_LOCAL_IMPORTS = ("models", "core", "observables", "sweep")
#: modules whose top level needs an optional extra: importing them inside the function that
#: needs them keeps the rest of tgsweep importable without it (module -> the extra)
OPTIONAL_EXTRA_MODULES = {"tgsweep.core.bose_hubbard": "dmrg (TeNPy)"}


def _modules() -> dict[str, ast.Module]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = p.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = (ast.parse(p.read_text()), parts[-1] == "__init__")
    return out


MODULES = _modules()


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".")
    if not is_pkg:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _internal_imports(mod: str):
    """(target module, imported names, at module level?) for each tgsweep import of ``mod``."""
    tree, is_pkg = MODULES[mod]
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(mod, is_pkg, node)
            if target.split(".")[0] != "tgsweep":
                continue
            names = [a.name for a in node.names]
            # "from . import x" / "from ..core import _k": x may itself be a module
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            yield (subs[0] if len(subs) == len(names) == 1 else target), names, id(node) in top
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "tgsweep":
                    yield a.name, [], id(node) in top


def _rank(mod: str) -> float:
    parts = mod.split(".")
    if len(parts) == 1:
        return 1.5  # the package root re-exports models and core
    return RANK.get(parts[1], TOP_RANK)


def _sub(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 2 else ""


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_module_level_imports_never_go_up(mod):
    for target, _, at_top in _internal_imports(mod):
        if at_top:
            assert _rank(target) <= _rank(mod), f"{mod} imports {target} (a higher layer)"


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_no_private_names_across_subpackages(mod):
    for target, names, _ in _internal_imports(mod):
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        private += [target] if target.rsplit(".", 1)[-1].startswith("_") else []
        if private:
            assert _sub(target) == _sub(mod) and _sub(mod), \
                f"{mod} imports private {private} from {target}"


def _layer(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("mod", sorted(m for m in MODULES if _layer(m) in NO_LOCAL_IMPORTS))
def test_no_function_level_tgsweep_imports(mod):
    local = [t for t, _, at_top in _internal_imports(mod)
             if not at_top and t not in OPTIONAL_EXTRA_MODULES]
    assert not local, f"{mod} imports {local} inside a function"


def test_no_import_cycles():
    graph = {m: {t for t, _, top in _internal_imports(m) if top and t in MODULES and t != m}
             for m in MODULES}
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for t in graph[m]:
            if state.get(t) == 1:
                cyc = path[path.index(t):] + [t]
                raise AssertionError("import cycle: " + " -> ".join(cyc))
            if state.get(t) is None:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(graph):
        if state.get(m) is None:
            visit(m, [m])


def test_the_checks_see_violations():
    """The AST reading is not vacuous: known imports are found with the right layer."""
    found = {t for t, _, _ in _internal_imports("tgsweep.observables.correlations")}
    assert "tgsweep.core.kernels" in found and "tgsweep.core.obdm" in found
    assert _rank("tgsweep.sweep.spec") > _rank("tgsweep.observables.dynamics") > _rank(
        "tgsweep.core.evolution") > _rank("tgsweep.models.potentials")


def _import_module_calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "import_module":
            yield node


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_lazy_imports_stay_inside_the_package(mod):
    """A package's lazily loaded names (PEP 562 ``__getattr__`` with ``importlib``, invisible to
    the checks above) come only from its own submodules: ``import_module(f"{__name__}.X")`` in
    the package's ``__init__``, so a lazy name never crosses a layer (third-party modules named
    by a constant string are not checked)."""
    tree, is_pkg = MODULES[mod]
    for call in _import_module_calls(tree):
        arg = call.args[0] if call.args else None
        if isinstance(arg, ast.Constant) and not str(arg.value).startswith("tgsweep"):
            continue
        ok = (is_pkg and isinstance(arg, ast.JoinedStr) and len(arg.values) >= 2
              and isinstance(arg.values[0], ast.FormattedValue)
              and isinstance(arg.values[0].value, ast.Name) and arg.values[0].value.id == "__name__"
              and isinstance(arg.values[1], ast.Constant) and str(arg.values[1].value).startswith("."))
        assert ok, f"{mod}: import_module({ast.unparse(arg) if arg else ''}) is not a submodule"


def test_lazy_import_check_sees_the_lazy_packages():
    found = {m for m in MODULES if any(True for _ in _import_module_calls(MODULES[m][0]))}
    assert {"tgsweep.observables", "tgsweep.sweep"} <= found
