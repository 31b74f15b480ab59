"""The set-up's warm-up (``python -m pvbess.warmup``): after it, a fresh process loads every
kernel the public entry points use from numba's on-disk cache and compiles nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pvbess import warmup

ROOT = Path(__file__).resolve().parents[1]

# a fresh interpreter: record every numba compilation (a cache load is none), run the entry
# points the warm-up runs, print what compiled
_CHILD = """
import json
from numba.core import event

compiled = []


class Record(event.Listener):
    def on_start(self, ev):
        d = ev.data["dispatcher"]
        compiled.append(f"{d.py_func.__module__}.{d.py_func.__qualname__}")

    def on_end(self, ev):
        pass


event.register("numba:compile", Record())
from pvbess import warmup

warmup.warm()
print(json.dumps(sorted(set(compiled))))
"""


def _run(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


@pytest.mark.slow
def test_a_fresh_process_after_the_warm_up_compiles_nothing():
    _run("-m", "pvbess.warmup", "-q")  # what make does (cheap when the cache is current)
    compiled = json.loads(_run("-c", _CHILD).strip().splitlines()[-1])
    assert compiled == []


def _package(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    pkg = tmp_path / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    (pkg / "kernels.py").write_text("from numba import njit\n")
    (pkg / "plain.py").write_text("x = 1\n")
    monkeypatch.setattr(warmup, "PACKAGE", pkg)
    monkeypatch.setattr(warmup, "FINGERPRINT", pkg / "__pycache__" / "numba-kernels.sha256")
    cached = pkg / "__pycache__" / "kernels.f-1.py311.nbi"
    cached.write_text("")
    return pkg, cached


def test_an_edited_kernel_module_clears_the_cache(tmp_path, monkeypatch):
    """numba does not notice an edit to a kernel inlined from another module: the warm-up
    starts from an empty cache whenever any kernel module changed."""
    pkg, cached = _package(tmp_path, monkeypatch)
    assert warmup.kernel_modules() == [pkg / "kernels.py"]
    assert warmup.clear_stale_cache() and not cached.exists()  # no fingerprint yet
    warmup.FINGERPRINT.write_text(warmup.sources_fingerprint() + "\n")
    cached.write_text("")
    assert not warmup.clear_stale_cache() and cached.exists()  # unchanged: kept
    (pkg / "plain.py").write_text("x = 2\n")
    assert not warmup.clear_stale_cache() and cached.exists()  # not a kernel module
    (pkg / "kernels.py").write_text("from numba import njit\n# edited\n")
    assert warmup.clear_stale_cache() and not cached.exists()
