"""A time budget that holds: a run's epochs re-planned from its own epoch and validation times.

The settings that chose the epochs (``core.train.auto_settings``) time two training steps before
the run. On the 2-core AMD VM those two steps varied by a quarter, and self-picked runs overran
their budgets by 10% (BSData) and 26% (magnetic tile; issue 51). As Ultralytics' ``time`` argument
does, the run therefore measures itself: after each validation, its epochs become the most that
fit what is left of the budget, and the cosine schedule and the mosaic-free epochs follow them.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class EpochBudget:
    """``budget_s`` seconds for the whole run (every sitting, validations and the final one included)."""
    budget_s: float
    val_interval: int = 1
    final_share: float = 0.25     # the final validation (one pass over val) against an epoch's validation
    epoch_s: list[float] = field(default_factory=list)   # walls of the epochs that did not validate
    val_s: list[float] = field(default_factory=list)     # what a validation added to its epoch's wall
    loop_s: list[float] = field(default_factory=list)    # training loops of the epochs that validated

    def record(self, wall_s: float, train_s: float, validated: bool) -> None:
        """One finished epoch: its wall time (loading, training, saving, validating) and its training loop's."""
        if validated:
            self.val_s.append(max(0.0, wall_s - train_s))
            self.loop_s.append(train_s)
        else:
            self.epoch_s.append(wall_s)

    def times(self) -> tuple[float, float] | None:
        """(seconds an epoch without validation, seconds a validation adds), once a validation is timed."""
        walls = self.epoch_s or self.loop_s          # every epoch validates: its loop is the epoch
        if not walls or not self.val_s:
            return None
        # the median: a sitting's first epoch starts the loader's processes, a saved last.pt costs a second
        return statistics.median(walls), statistics.fmean(self.val_s[-3:])

    def plan(self, done: int, spent_s: float, max_epochs: int) -> int | None:
        """The epochs (in all) that fit after ``done`` epochs and ``spent_s`` seconds, ``done`` at
        least (the run ends now); None while nothing is timed. The last epoch always validates."""
        t = self.times()
        if t is None:
            return None
        epoch, val = t
        left = self.budget_s - spent_s - val * self.final_share
        epochs, cost = done, 0.0
        while epochs < max_epochs:
            nxt = epochs + 1
            add = epoch + (val if nxt % self.val_interval == 0 else 0.0)
            last_val = 0.0 if nxt % self.val_interval == 0 else val
            if cost + add + last_val > left:
                break
            cost += add
            epochs = nxt
        return epochs

    def spent(self, spent_s: float) -> bool:
        """The whole budget is gone: the epoch now ending must be the last."""
        return spent_s >= self.budget_s
