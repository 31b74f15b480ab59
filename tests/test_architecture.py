"""The layout is the architecture: imports point down the layers, no cycles, no private names
reached across subpackages (README, "Layout")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pvbess"

#: Layers from the bottom; a module may import its own layer and the ones below.
LAYERS = ("", "inputs", "optimize", "scheduler", "studies", "learn", "plotting", "report", "live")
#: Packages that belong to the root layer: one root module filed as a few (README, "Layout").
ROOT_PACKAGES = ("physics",)


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


MODULES = _modules()


def _imports(name: str) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) of every pvbess import in a module."""
    path, is_pkg = MODULES[name]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "pvbess":
                continue
            names = [a.name for a in node.names]
            # "from . import x" imports a submodule
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            if subs:
                found += [(s, [], node.lineno) for s in subs]
            else:
                found.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names
                      if a.name.split(".")[0] == "pvbess"]
    return found


def _subpackage(module: str) -> str:
    """``inputs``, ``optimize``, ... or "" for a module at the root."""
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and MODULES.get(module, (None, False))[1]):
        return parts[1]
    return ""


def _layer(module: str) -> int:
    sub = _subpackage(module)
    return 0 if sub in ROOT_PACKAGES else LAYERS.index(sub)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n != "pvbess"))
def test_imports_point_down_and_reach_no_private_name(name):
    for target, names, line in _imports(name):
        if target == "pvbess":
            continue  # the flat public API
        assert _layer(target) <= _layer(name), (
            f"{name} (line {line}) imports {target}: a higher layer")
        # a private name stays inside its subpackage (a root module is a subpackage of its own)
        same_sub = _layer(name) != 0 and _subpackage(target) == _subpackage(name)
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        assert same_sub or not private, (
            f"{name} (line {line}) imports private {private} from {target}")


def test_no_import_cycle():
    graph = {n: {t for t, _, _ in _imports(n) if t in MODULES and t != "pvbess"}
             for n in MODULES}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack + [node, nxt]))
            if nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [])


def test_the_co2_factor_is_written_in_one_place():
    """The grid's emission factor is the site spec's default (pvbess/site.py); every other
    default reads it from there, so changing the site changes every run."""
    allowed = {"site.py"}
    found = {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
             if "4521" in path.read_text(encoding="utf-8")}
    assert "site.py" in found
    assert found - allowed == set(), sorted(found - allowed)
