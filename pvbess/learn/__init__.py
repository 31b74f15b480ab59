"""Learned controllers: a gymnasium environment over the plant and the full bill
(:mod:`~pvbess.learn.env`), and stable-baselines3 agents scored against the optimum
(:mod:`~pvbess.learn.agents`). Needs the ``rl`` extra (``pip install -e '.[rl]'``).
"""

from __future__ import annotations

from .env import FLOW_NAMES, OBSERVATION_NAMES, SiteBatteryEnv

__all__ = ["FLOW_NAMES", "OBSERVATION_NAMES", "SiteBatteryEnv"]
