"""The learning curve of an agent, recorded while it trains (needs the ``rl`` extra).

:class:`LearningCurveCallback` is a stable-baselines3 callback: at the end of every training
episode it records the episode's bill (the environment's summed reward, unscaled), and at
``eval_at`` timesteps it runs the deterministic policy over an evaluation table (the held-out
months) and records that bill too. Both are bills in PEN over their table, so
:func:`pvbess.learn.tables.learning_curves` turns them into shares of the optimal saving.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
from stable_baselines3.common.callbacks import BaseCallback

__all__ = ["CURVE_COLUMNS", "EVALUATION", "TRAINING", "LearningCurveCallback"]

#: ``kind`` of a point: a training episode (the exploring policy on the training table) or an
#: evaluation (the deterministic policy on the evaluation table).
TRAINING, EVALUATION = "training", "evaluation"

#: Columns of a learning curve: timesteps trained so far, kind, the bill over its table. [PEN]
CURVE_COLUMNS: tuple[str, ...] = ("timesteps", "kind", "total_cost_pen")


class LearningCurveCallback(BaseCallback):
    """Record training episodes' bills and evaluations of the policy at chosen timesteps.

    Parameters
    ----------
    reward_scale : float
        The training environment's reward scale: an episode's bill is ``-reward / scale``.
        [1/PEN]
    evaluate : callable, optional
        ``evaluate(model) -> bill`` of the deterministic policy on the evaluation table. [PEN]
    eval_at : sequence of int
        Timesteps after which to evaluate (0: the untrained policy, before learning starts);
        with any, the final policy is evaluated too.
    """

    def __init__(self, reward_scale: float, evaluate: Callable[[object], float] | None = None,
                 eval_at: Sequence[int] = ()) -> None:
        super().__init__(verbose=0)
        self.reward_scale = float(reward_scale)
        self.evaluate = evaluate
        self.eval_at = sorted({int(t) for t in eval_at}) if evaluate is not None else []
        self.points: list[tuple[int, str, float]] = []
        self._next = 0  # index into eval_at

    def _evaluate_due(self) -> None:
        while self._next < len(self.eval_at) and self.eval_at[self._next] <= self.num_timesteps:
            self.points.append((int(self.num_timesteps), EVALUATION,
                                float(self.evaluate(self.model))))
            self._next += 1

    def _on_training_start(self) -> None:
        self._evaluate_due()  # timestep 0: the untrained policy

    def _on_training_end(self) -> None:
        # the last evaluation is of the final policy (PPO and A2C may train past the last
        # point: they stop after a whole rollout)
        done = [t for t, kind, _ in self.points if kind == EVALUATION]
        if self.eval_at and (not done or done[-1] < self.num_timesteps):
            self.points.append((int(self.num_timesteps), EVALUATION,
                                float(self.evaluate(self.model))))

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            episode = info.get("episode")  # set by Monitor when an episode ends
            if episode is not None:
                self.points.append((int(self.num_timesteps), TRAINING,
                                    -float(episode["r"]) / self.reward_scale))
        self._evaluate_due()
        return True

    def curve(self) -> pd.DataFrame:
        """The points recorded so far, in order: :data:`CURVE_COLUMNS`."""
        return pd.DataFrame(self.points, columns=list(CURVE_COLUMNS))
