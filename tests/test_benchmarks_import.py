"""Every benchmark script's pvbess imports resolve (a moved module must not leave them broken)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_imports_resolve(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pvbess"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                name = alias.name
                assert hasattr(module, name) or importlib.util.find_spec(
                    f"{node.module}.{name}") is not None, f"{path.name}: {node.module}.{name}"
