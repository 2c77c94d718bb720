"""How many iterations a batch of recipe runs can have within a time budget.

The runs share one machine, ``parallel`` at a time, in waves; every run has
the same schedule. A probe (``parallel`` runs of the slowest row at once,
for a few iterations) measures the seconds per iteration under that load
and each run's fixed cost (start-up, loading, the evaluations at the end);
:func:`plan_iterations` turns them into the longest schedule that fits.
"""
import math
from typing import Dict


def plan_iterations(budget_s: float,
                    runs: int,
                    parallel: int,
                    s_per_iter: float,
                    fixed_s: float,
                    val_interval: int,
                    val_s: float = 0.0,
                    min_iters: int = 1) -> Dict:
    """The longest schedule, a multiple of ``val_interval``, that lets
    ``runs`` runs finish within ``budget_s``.

    Args:
        budget_s (float): Seconds for all the runs.
        runs (int): How many runs (rows x seeds).
        parallel (int): Runs at a time.
        s_per_iter (float): Seconds per training iteration with
            ``parallel`` runs at once (the probe's slowest).
        fixed_s (float): Seconds of a run that do not grow with the
            schedule (start-up, the final evaluations, the latency check).
        val_interval (int): Validation period; the schedule is a multiple.
        val_s (float): Seconds of one periodic validation.
        min_iters (int): Refuse a plan shorter than this.

    Returns:
        dict: ``iters``, ``waves`` and ``expected_s`` (the plan's time).
    """
    for name, value in (('runs', runs), ('parallel', parallel),
                        ('val_interval', val_interval)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be a positive integer, got '
                             f'{value!r}')
    if s_per_iter <= 0 or fixed_s < 0 or val_s < 0:
        raise ValueError(
            f'need s_per_iter > 0, fixed_s >= 0 and val_s >= 0, got '
            f'{s_per_iter}, {fixed_s}, {val_s}')
    waves = math.ceil(runs / parallel)
    per_run = budget_s / waves - fixed_s
    # one validation period costs val_interval iterations and a validation
    periods = math.floor(per_run / (val_interval * s_per_iter + val_s))
    iters = periods * val_interval
    if iters < min_iters:
        raise ValueError(
            f'{runs} runs, {parallel} at a time ({waves} waves), fit '
            f'{max(iters, 0)} iterations each in {budget_s:.0f} s '
            f'({s_per_iter:.3f} s per iteration, {fixed_s:.0f} s fixed per '
            f'run), fewer than the {min_iters} asked for: give more time, '
            'fewer runs or more parallel runs')
    expected = waves * (fixed_s + periods * (val_interval * s_per_iter +
                                              val_s))
    return dict(iters=iters, waves=waves, expected_s=expected)
