"""The batch schedule: the longest multiple of the validation period whose
waves fit the budget, against a brute-force search."""
import math

import pytest

from mmseg_dsrl.analysis.batch_plan import plan_iterations


def _brute_force(budget, runs, parallel, s, fixed, interval, val_s):
    waves = math.ceil(runs / parallel)
    best = 0
    for k in range(1, 100000):
        if waves * (fixed + k * (interval * s + val_s)) > budget:
            break
        best = k * interval
    return best


@pytest.mark.parametrize('budget, runs, parallel, s, fixed, interval, val_s', [
    (420, 12, 6, 0.02, 30, 500, 5),
    (420, 12, 4, 0.05, 25, 250, 2),
    (3600, 15, 2, 1.1, 60, 200, 40),
    (100, 1, 1, 0.01, 0, 100, 0),
])
def test_matches_brute_force(budget, runs, parallel, s, fixed, interval,
                             val_s):
    plan = plan_iterations(budget, runs, parallel, s, fixed, interval, val_s)
    assert plan['iters'] == _brute_force(budget, runs, parallel, s, fixed,
                                         interval, val_s)
    assert plan['iters'] % interval == 0
    assert plan['waves'] == math.ceil(runs / parallel)
    assert plan['expected_s'] <= budget


def test_refuses_a_schedule_below_the_minimum():
    with pytest.raises(ValueError, match='fewer than the 1000 asked for'):
        plan_iterations(60, 12, 6, 0.05, 20, 100, min_iters=1000)


@pytest.mark.parametrize('kwargs, match', [
    (dict(runs=0), 'runs must be a positive integer'),
    (dict(parallel=1.5), 'parallel must be a positive integer'),
    (dict(s_per_iter=0), 's_per_iter > 0'),
])
def test_bad_input_is_named(kwargs, match):
    args = dict(budget_s=100, runs=2, parallel=1, s_per_iter=0.1, fixed_s=1,
                val_interval=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        plan_iterations(**args)
