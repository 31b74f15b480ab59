"""Shared fixtures: the reference folder (../shared) and small spec objects."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from pvbess.config import shared_dir

# CI explores a fixed, reproducible set of examples (a red build can be replayed exactly);
# local runs draw new examples every time and keep failures in .hypothesis/.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


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
