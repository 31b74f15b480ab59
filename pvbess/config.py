"""Where things live: every path of the project derives from here."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the folder holding ``pyproject.toml``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
IQUITOS_DIR = DATA_DIR / "iquitos"
REPORTS_DIR = PROJECT_ROOT / "reports"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
PARAMS_DIR = PROJECT_ROOT / "params"


def shared_dir() -> Path | None:
    """The ``shared/`` folder of reference material, or None when absent.

    ``PVBESS_SHARED`` overrides the default location (``../shared`` beside the repository).
    """
    env = os.environ.get("PVBESS_SHARED")
    path = Path(env) if env else PROJECT_ROOT.parent / "shared"
    return path if path.is_dir() else None
