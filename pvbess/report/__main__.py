"""``python -m pvbess.report``: see :mod:`pvbess.report.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
