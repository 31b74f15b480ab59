"""Learned controllers: a gymnasium environment over the plant and the full bill
(:mod:`~pvbess.learn.env`), stable-baselines3 agents trained and replayed through ``simulate``
(:mod:`~pvbess.learn.agents`, their learning curves: :mod:`~pvbess.learn.callbacks`), scored
against the optimum on held-out months (:mod:`~pvbess.learn.scores`) and summarised for notebook
05 (:mod:`~pvbess.learn.tables`; its figures: :mod:`pvbess.plotting.learned`). Training needs the
``rl`` extra (``pip install -e '.[rl]'``); without it every module but ``callbacks`` imports, and
training says what to install.
"""

from __future__ import annotations

from .env import FLOW_NAMES, OBSERVATION_NAMES, SiteBatteryEnv

__all__ = ["FLOW_NAMES", "OBSERVATION_NAMES", "SiteBatteryEnv"]
