"""``python -m pvbess.live --config site.yaml`` (:mod:`pvbess.live.cli`)."""

import sys

from .cli import main

sys.exit(main())
