"""``python -m pvbess.live --config site.yaml``: see :mod:`pvbess.live.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
