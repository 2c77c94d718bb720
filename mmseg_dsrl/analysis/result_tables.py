"""Markdown tables of recipe results (one row per model, one entry per
seed): paired differences by seed, per-class detail and loss terms.

A row is a dict with ``key``, ``name``, ``seed_list``, ``mious`` (one per
seed), ``details`` (one metrics dict per seed) and optionally
``final_losses`` (one dict of logged loss terms per seed).
"""
import statistics
from typing import List, Optional, Sequence

from .runs import format_difference, format_mean_std
from .training_logs import markdown_table

# Per-class IoU of the thin classes where resolution should matter, and the
# boundary (trimap, 3 px) mIoU, from the CamVid configs' val_evaluator.
THIN_CLASSES = ('pole', 'sign_symbol', 'pedestrian', 'bicyclist', 'fence')
DETAIL_KEYS = ('boundary3/mIoU', ) + tuple(f'IoU.{c}' for c in THIN_CLASSES)
LOSS_KEYS = ('decode.loss_ce', 'sisr.loss_sr', 'fa.loss_fa')


def _lines(headers: Sequence[str], cells: List[list]) -> List[str]:
    """A blank line, then the table's lines (tables are concatenated)."""
    return [''] + markdown_table(headers, cells).split('\n')


def _mean_cell(values: list, fmt: str) -> str:
    return format(statistics.fmean(values), fmt) if values else ''


def summary_table(rows: Sequence[dict], output: str) -> List[str]:
    """One line per model: input, GFLOPs, CPU latency, mIoU (mean ± std
    and per seed), training time and the config with its overrides (rows
    also carry ``input``, ``gflops``, ``latency_ms``, ``miou_mean``,
    ``miou_std``, ``seeds``, ``train_min``, ``config`` and optionally
    ``cfg_options``)."""
    cells = []
    for r in rows:
        overrides = ''.join(f' `{k}={v}`'
                            for k, v in (r.get('cfg_options') or {}).items())
        name = r['config'].rsplit('/', 1)[-1]
        cells.append([
            r['name'], r['input'], output, f'{r["gflops"]:.2f}',
            f'{r["latency_ms"]:.1f}',
            format_mean_std(r['miou_mean'], r['miou_std'], r['seeds']),
            ', '.join(f'{m:.2f}' for m in r['mious']),
            f'{r["train_min"]:.0f} min/run',
            f'[{name}]({r["config"]}){overrides}'
        ])
    return markdown_table([
        'model', 'input', 'output', 'GFLOPs', 'CPU latency (ms)', 'mIoU',
        'per seed', 'train time', 'config'
    ], cells).split('\n')


def compact_table(rows: Sequence[dict], output: str) -> List[str]:
    """The front page's table: the config (linked), input and output size,
    iterations, GFLOPs and mIoU (mean ± std over the seeds named)."""
    cells = [[
        f'[{r["config"].rsplit("/", 1)[-1]}]({r["config"]})',
        f'{r["input"]} -> {output}', str(r.get('iters', '')),
        f'{r["gflops"]:.2f}',
        format_mean_std(r['miou_mean'], r['miou_std'], r['seeds']),
        ', '.join(str(s) for s in r['seed_list'])
    ] for r in rows]
    return markdown_table(['config', 'input -> output', 'iterations',
                           'GFLOPs', 'val mIoU', 'seeds'],
                          cells).split('\n')


def detail_table(rows: Sequence[dict]) -> List[str]:
    """Boundary mIoU and thin-class IoU, mean over the seeds that have them.
    """
    return _lines(
        ['model', 'boundary mIoU (3 px)', *THIN_CLASSES],
        [[r['name']] + [
            _mean_cell([d[k] for d in r['details'] if d.get(k) is not None],
                       '.2f') for k in DETAIL_KEYS
        ] for r in rows])


def loss_table(rows: Sequence[dict]) -> List[str]:
    """Logged (weighted) loss terms over the last 20 % of training, mean
    over seeds: what FA does to the other terms (and an HR teacher's
    ``kd.*`` terms, where a row has them)."""
    keys = list(LOSS_KEYS) + sorted({
        k for r in rows for d in r.get('final_losses', []) for k in d
        if k.startswith('kd.')
    })
    return _lines(
        ['model (weighted loss terms, last 20 % of training)', *keys],
        [[r['name']] + [
            _mean_cell([d[k] for d in r.get('final_losses', []) if k in d],
                       '.4f') for k in keys
        ] for r in rows])


def paired_table(rows: Sequence[dict],
                 reference: str = 'lr',
                 keys: Optional[Sequence[str]] = None) -> List[str]:
    """mIoU minus the same seed's ``reference`` row, per seed, for the rows
    whose key is in ``keys`` (default: all); [] without the reference row or
    without a row to compare."""
    ref = next((r for r in rows if r['key'] == reference), None)
    if ref is None:
        return []
    by_seed = dict(zip(ref['seed_list'], ref['mious']))
    cells = []
    for r in rows:
        if r is ref or (keys is not None and r['key'] not in keys):
            continue
        diffs = [m - by_seed[s] for s, m in zip(r['seed_list'], r['mious'])
                 if s in by_seed]
        if not diffs:
            continue
        cells.append([
            r['name'], ', '.join(f'{d:+.2f}' for d in diffs),
            format_difference(diffs)
        ])
    if not cells:
        return []
    return _lines(['model', f'minus {ref["name"]}, same seed', 'mean ± std'],
                  cells)
