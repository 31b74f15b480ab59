"""Shared fixtures: the reference folder (../shared) and small spec objects."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pvbess.config import shared_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared/ reference folder; skips (or fails in CI) when it is absent.

    CI sets ``PVBESS_REQUIRE_SHARED=1`` so a missing corpus fails loudly instead of skipping.
    """
    path = shared_dir()
    if path is None:
        if os.environ.get("PVBESS_REQUIRE_SHARED") == "1":
            pytest.fail("PVBESS_REQUIRE_SHARED=1 but the shared/ folder was not found "
                        "(set PVBESS_SHARED to its path)")
        pytest.skip("shared/ reference folder not found beside the repository "
                    "(set PVBESS_SHARED=/path/to/shared to run the corpus tests)")
    return path
