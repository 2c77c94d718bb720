"""Reading mmengine's training logs and comparing loss curves (tools only).

mmengine's ``LocalVisBackend`` writes one JSON object per logged step to
``<work_dir>/<timestamp>/vis_data/scalars.json`` (training steps carry
``step`` and the loss terms; validation steps carry the metrics). These
helpers read them back so that tools can compare runs, e.g. one config
trained in fp32 and under mixed precision.
"""
import glob
import json
import os.path as osp
import statistics
from typing import Dict, List, Sequence

__all__ = [
    'read_scalars', 'loss_curve', 'compare_loss_curves', 'markdown_table'
]


def read_scalars(work_dir: str) -> List[dict]:
    """Every record of the newest ``vis_data/scalars.json`` under
    ``work_dir``.

    Raises:
        FileNotFoundError: When the folder holds no such log.
    """
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not logs:
        raise FileNotFoundError(
            f'no mmengine scalars log (*/vis_data/scalars.json) in '
            f'{work_dir!r}: did the run train with LocalVisBackend?')
    with open(logs[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def loss_curve(records: Sequence[dict], key: str = 'loss') -> Dict[int, float]:
    """``step -> records[key]`` for the training records that have ``key``.
    """
    return {
        int(r['step']): float(r[key])
        for r in records if key in r and 'step' in r and 'lr' in r
    }


def compare_loss_curves(reference: Dict[int, float],
                        other: Dict[int, float],
                        tail: int = 5) -> Dict[str, float]:
    """How far ``other`` is from ``reference`` (same config, same seed,
    another precision).

    Args:
        reference (dict): ``step -> loss`` of the reference run (fp32).
        other (dict): ``step -> loss`` of the compared run.
        tail (int): The final loss is the mean of the last ``tail`` logged
            steps both runs have (one logged step is a noisy single batch).

    Returns:
        dict: ``steps`` (logged steps in common), ``final_ref`` and
        ``final`` (tail means), ``final_rel_diff`` (``final / final_ref -
        1``), ``median_rel_diff`` (median over the common steps of
        ``|other / reference - 1|``) and ``all_finite`` (1.0 when every
        logged loss of ``other`` is finite, else 0.0).

    Raises:
        ValueError: When the runs share no logged step, or ``tail < 1``.
    """
    if tail < 1:
        raise ValueError(f'tail must be >= 1, got {tail}')
    steps = sorted(set(reference) & set(other))
    if not steps:
        raise ValueError(
            'the two loss curves share no logged step (reference steps '
            f'{sorted(reference)[:3]}..., other {sorted(other)[:3]}...)')
    last = steps[-tail:]
    final_ref = statistics.fmean(reference[s] for s in last)
    final = statistics.fmean(other[s] for s in last)
    finite = all(v == v and abs(v) != float('inf') for v in other.values())
    return dict(
        steps=len(steps),
        final_ref=final_ref,
        final=final,
        final_rel_diff=final / final_ref - 1,
        median_rel_diff=statistics.median(
            abs(other[s] / reference[s] - 1) for s in steps),
        all_finite=1.0 if finite else 0.0)


def markdown_table(headers: Sequence[str],
                   rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; floats keep the caller's formatting (pass
    strings for fixed decimals).

    Raises:
        ValueError: When a row's length differs from the headers'.
    """
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f'row {i} has {len(row)} cells, the table has '
                             f'{len(headers)} columns: {row!r}')

    def line(cells: Sequence[object]) -> str:
        return '| ' + ' | '.join(
            str(c).replace('|', '\\|') for c in cells) + ' |'

    return '\n'.join([line(headers), '|' + '---|' * len(headers)] +
                     [line(r) for r in rows])
