"""Tables of the raw timing measurements under ``results/measurements``.

Each function turns what one of the timing tools writes into the Markdown
lines of a page's generated block (:mod:`mmseg_dsrl.analysis.pages`):

* :func:`timing_table`: the interleaved ratios of
  ``tools/analysis_tools/compare_training_time.py`` and
  ``profile_training_step.py`` (``rows`` of name, ms, ratio and its
  quartiles), one or more runs side by side;
* :func:`operators_table`: the operators a variant adds to the first row's
  step (``profile_training_step.py --profile``);
* :func:`onnx_profile_table`: ``tools/deployment/profile_onnx.py``'s
  per-operator-type profile against the matrix-product rate;
* :func:`flops_table`: ``tools/analysis_tools/dsrl_flops_table.py``'s
  inference GFLOPs of each DSRL config, its LR baseline and the stock
  config;
* :func:`gpu_check_table`: ``tools/analysis_tools/gpu_check.py``'s raw
  JSON, one row per check of the sections it ran;
* :func:`int8_mixed_table`: ``tools/deployment/int8_mixed_precision.py``'s
  val mIoU and latency of fp32, INT8 and INT8 with its least accurate
  tensors kept in fp32;
* :func:`compression_tables`:
  ``tools/experiments/icnet_camvid_compression.py``'s ``compression.json``:
  ICNet's exits, pruned models and the narrower network trained from
  scratch, and their paired differences.
"""
import os.path as osp
import re
from typing import Dict, List, Sequence

from .runs import format_difference, format_mean_std, mean_std
from .training_logs import markdown_table

__all__ = ['run_label', 'timing_table', 'operators_table',
           'onnx_profile_table', 'int8_mixed_table', 'gpu_check_table',
           'flops_table', 'icnet_benchmark_table', 'fa_benchmark_table',
           'compression_tables']


def run_label(path: str) -> str:
    """A column label for a measurement file: its name without the date
    prefix and the extension (``YYYY-MM-DD_train-step_run-1.json`` ->
    ``train-step_run-1``)."""
    name = osp.splitext(osp.basename(path))[0]
    return re.sub(r'^\d{4}-\d{2}-\d{2}_', '', name)


def _ratio(row: dict) -> str:
    if row['ratio'] == 1.0 and row['ratio_q1'] == row['ratio_q3'] == 1.0:
        return '1.000'
    return (f'{row["ratio"]:.3f} ({row["ratio_q1"]:.3f}-'
            f'{row["ratio_q3"]:.3f})')


def timing_table(runs: Dict[str, dict]) -> List[str]:
    """Median time per step and ratio to the first row (median of the
    per-round ratios, quartiles in brackets), one pair of columns per run.

    Args:
        runs: Column label -> the tool's JSON (``rows`` of ``name``, ``ms``,
            ``ratio``, ``ratio_q1``, ``ratio_q3``); rows are matched by name
            and a run without a row leaves its cells blank.

    Returns:
        list[str]: The table's lines.
    """
    names: List[str] = []
    by_run = {}
    for label, data in runs.items():
        by_run[label] = {r['name']: r for r in data['rows']}
        names += [r['name'] for r in data['rows'] if r['name'] not in names]
    headers = ['variant']
    for label in runs:
        headers += [f'{label}: ms', f'{label}: x first row (quartiles)']
    body = []
    for name in names:
        cells = [name]
        for label in runs:
            row = by_run[label].get(name)
            cells += ([f'{row["ms"]:.1f}', _ratio(row)] if row else ['', ''])
        body.append(cells)
    return markdown_table(headers, body).splitlines()


def operators_table(data: dict, top: int = 8) -> List[str]:
    """The operators whose self CPU time per step grows most from the first
    variant to the profiled one (``operators_added``: name, first ms,
    profiled ms, added ms).

    Args:
        data: ``profile_training_step.py --profile``'s JSON.
        top: How many operators, largest addition first.

    Returns:
        list[str]: The table's lines.
    """
    rows = sorted(data['operators_added'], key=lambda r: -r[3])[:top]
    body = [[name, f'{a:.2f}', f'{b:.2f}', f'{added:+.2f}']
            for name, a, b, added in rows]
    return markdown_table(['operator', 'first row (ms)', 'profiled (ms)',
                           'added (ms)'], body).splitlines()


def _op_summary(op_types: Sequence[dict], skip: str, count: int) -> str:
    rest = [o for o in op_types if o['op'] != skip][:count]
    return ', '.join(f'{o["op"]} {o["share"]:.1f} %' for o in rest)


def onnx_profile_table(profiles: Sequence[dict]) -> List[str]:
    """Per profiled graph: operator time, the FLOPs counted, the time that
    arithmetic takes at the matrix-product rate of the same run, the
    convolutions' share and rate, and the largest other operator types.

    Args:
        profiles: ``profile_onnx.py``'s JSONs (``config``, ``shape``,
            ``matmul_rate`` in FLOP/s and ``op_types`` sorted by time).

    Returns:
        list[str]: The table's lines.
    """
    body = []
    for p in profiles:
        ops = p['op_types']
        total_ms = sum(o['ms'] for o in ops)
        flops = sum(o['flops'] for o in ops)
        bound_ms = flops / p['matmul_rate'] * 1e3
        conv = next((o for o in ops if o['op'] == 'Conv'), None)
        conv_cell = (f'{conv["share"]:.1f} %, {100 * conv["of_rate"]:.0f} % '
                     'of the rate' if conv else '')
        body.append([
            f'{osp.basename(p["config"])} ({p["shape"][0]}x{p["shape"][1]})',
            f'{total_ms:.2f}', f'{flops / 1e9:.3f}',
            f'{p["matmul_rate"] / 1e9:.0f}', f'{bound_ms:.2f}',
            f'{total_ms / bound_ms:.1f}' if bound_ms else '', conv_cell,
            _op_summary(ops, 'Conv', 4)
        ])
    return markdown_table([
        'graph', 'operator time (ms)', 'GFLOP', 'matmul rate (GFLOP/s)',
        'arithmetic at that rate (ms)', 'x', 'Conv: share, rate reached',
        'largest other operators'
    ], body).splitlines()


def int8_mixed_table(records: Sequence[dict]) -> List[str]:
    """Per checkpoint: val mIoU of eager fp32, the backend's fp32 and INT8
    graphs and the INT8 graph with the chosen tensors kept fp32 (each with
    its difference from eager), how many tensors that keeps, and the
    latency of the backend's three graphs.

    Args:
        records: ``int8_mixed_precision.py --out`` JSONs.

    Returns:
        list[str]: The table's lines.
    """
    body = []
    for r in records:
        backend, val, ms = r['backend'], r['val_mIoU'], r['latency_ms']
        eager = val['eager']
        fp32, int8 = f'{backend} fp32', f'{backend} int8'
        mixed = next((k for k in val if k.startswith(int8 + ',')), None)
        k = r['chosen_k']
        if k is None:
            kept, mixed_cell = (f'none of {r["steps"][-1]["k"]} reaches '
                                f'{r["budget"]}'), ''
        elif mixed is None:
            kept, mixed_cell = '0', 'as INT8'
        else:
            kept = str(k)
            mixed_cell = f'{val[mixed]:.2f} ({val[mixed] - eager:+.2f})'
        body.append([
            osp.basename(r['config']), backend, f'{eager:.2f}',
            f'{val[fp32]:.2f}', f'{val[int8]:.2f} ({val[int8] - eager:+.2f})',
            kept, mixed_cell, f'{ms[fp32]:.1f}', f'{ms[int8]:.1f}',
            f'{ms[mixed]:.1f}' if mixed else ''
        ])
    return markdown_table([
        'config', 'backend', 'eager mIoU', 'fp32', 'INT8',
        'tensors kept fp32', 'INT8 with them fp32', 'fp32 (ms)',
        'INT8 (ms)', 'INT8 with them fp32 (ms)'
    ], body).splitlines()


def _gpu_amp_rows(amp: dict) -> List[list]:
    rows = []
    for key, e in amp.items():
        if 'mIoU' not in e:
            rows.append(['amp', key, f'training failed (rc {e["returncode"]})'])
        elif 'final_rel_diff' not in e:
            rows.append(['amp', key, f'mIoU {e["mIoU"]:.2f} (reference)'])
        else:
            rows.append(['amp', key, (
                f'mIoU {e["mIoU"]:.2f}; final loss '
                f'{e["final_rel_diff"]:+.1%} vs. fp32 (median step '
                f'difference {e["median_rel_diff"]:.1%}); every term finite: '
                f'{bool(e["all_finite"])}')])
    return rows


def gpu_check_table(raw: dict) -> List[str]:
    """The GPU check's results from its raw JSON: the test run, the mixed-
    precision trainings against fp32, the DDP run, the FA loss per block
    size against its bound, ICNet's exits and the DSRL / LR training step.

    Args:
        raw: ``gpu_check.py``'s ``gpu_check.json`` (``sections`` says which
            of ``tests``, ``amp``, ``ddp``, ``fa``, ``icnet``, ``step`` ran).

    Returns:
        list[str]: The table's lines.
    """
    rows: List[list] = []
    for section in raw['sections']:
        e = raw[section]
        if section == 'tests':
            rows.append(['tests', ' + '.join(e['targets']), e['summary']])
        elif section == 'amp':
            rows += _gpu_amp_rows(e)
        elif section == 'ddp':
            shown = [f'rc {e["returncode"]}'] + [
                f'{name} {e[k]}' for k, name in (('distributed', 'distributed'),
                                                 ('mIoU', 'val mIoU'))
                if e.get(k) is not None
            ]
            rows.append(['ddp', '1-GPU torchrun, sync_bn=torch, DSRL demo',
                         ', '.join(shown)])
        elif section == 'fa':
            bound = e['bound_s']
            rows.append(['fa', f'bound, N = {e["n"]}, batch {e["batch"]}',
                         f'{bound * 1e3:.2f} ms at '
                         f'{e["fp32_matmul_flops"] / 1e12:.1f} TFLOP/s'])
            for block, b in sorted(e['blocks'].items(),
                                   key=lambda kv: int(kv[0])):
                rows.append(['fa', f'{block}-row blocks, fwd + bwd', (
                    f'{b["seconds"] * 1e3:.1f} ms ({b["seconds"] / bound:.1f}x'
                    f' bound), peak {b["peak_bytes"] / 2**20:.0f} MiB')])
        elif section == 'icnet':
            for key, t in e.items():
                rows.append(['icnet', f'ICNet-R50 {key}, batch 1',
                             f'{t["median"] * 1e3:.1f} ms '
                             f'({t["images_per_s"]:.0f} images/s)'])
        elif section == 'step':
            for precision, ratios in e.items():
                for r in ratios:
                    spread = (f' ({r["ratio_q1"]:.3f}-{r["ratio_q3"]:.3f})'
                              if r['ratio_q1'] != r['ratio_q3'] else '')
                    rows.append(['step', f'DeepLabV3+-R50 {r["name"]}, '
                                 f'{precision}', f'{r["ms"]:.1f} ms, '
                                 f'{r["ratio"]:.3f}x LR{spread}'])
    return markdown_table(['section', 'check', 'result'], rows).splitlines()


def flops_table(rows: Sequence[dict], link_prefix: str = '') -> List[str]:
    """Inference GFLOPs of each DSRL config, its LR-input baseline and the
    stock config at the full input, and the two ratios.

    Args:
        rows: ``dsrl_flops_table.py --out``'s JSON (``architecture``,
            ``config``, ``dsrl`` / ``lr`` / ``stock`` with ``flops``,
            ``dsrl_over_lr``, ``dsrl_over_stock``).
        link_prefix: The repository root relative to the page.

    Returns:
        list[str]: The table's lines.
    """
    body = [[
        f'[{r["architecture"]}]({link_prefix}{r["config"]})',
        *[f'{r[k]["flops"] / 1e9:.1f}' for k in ('dsrl', 'lr', 'stock')],
        f'{r["dsrl_over_lr"]:.3f}', f'{r["dsrl_over_stock"]:.3f}'
    ] for r in rows]
    return markdown_table([
        'architecture (Cityscapes configs)', 'DSRL GFLOPs',
        'LR-input baseline', 'stock config, full input', 'DSRL / LR',
        'DSRL / stock'
    ], body).splitlines()


def icnet_benchmark_table(data: dict) -> List[str]:
    """GFLOPs, parameters and latency of ``icnet_benchmark.py --out``'s
    models, each as a multiple of the reference's (PSPNet) speed.

    Args:
        data (dict): ``shape``, ``runs``, ``reference`` (a model's name) and
            ``rows`` (``model``, ``gflops``, ``params_m``, ``latency_s``).

    Returns:
        list[str]: The table's lines.
    """
    rows = data['rows']
    by_name = {r['model']: r for r in rows}
    if data['reference'] not in by_name:
        raise ValueError(f'icnet-benchmark: the reference '
                         f'{data["reference"]!r} is not among the rows '
                         f'{sorted(by_name)}')
    reference = by_name[data['reference']]['latency_s']
    h, w = data['shape']
    body = [[
        r['model'], f'{r["gflops"]:.1f}', f'{r["params_m"]:.2f}',
        f'{r["latency_s"]:.2f}', f'{reference / r["latency_s"]:.1f}'
    ] for r in rows]
    return markdown_table([
        f'model (1x3x{h}x{w})', 'GFLOPs', 'params (M)',
        f'latency (s, median of {data["runs"]})',
        f'x faster than {data["reference"]}'
    ], body).splitlines()


def fa_benchmark_table(data: dict) -> List[str]:
    """The FA loss's implementations per N (``benchmark_fa_loss.py
    --out``): time, peak memory, multiple of the compute bound and the
    relative difference of the loss and gradients from the reference.

    Args:
        data (dict): ``sizes``, each with ``n``, ``h``, ``w``, ``bound_s``,
            ``results`` (implementation -> ``time``, ``peak_mib`` or
            ``error``), ``reference`` and ``differences`` (implementation
            -> ``loss``, ``g_seg``, ``g_sr``).

    Returns:
        list[str]: The table's lines.
    """
    body = []
    for size in data['sizes']:
        for key, r in size['results'].items():
            where = f'{size["n"]} ({size["h"]}x{size["w"]})'
            if 'error' in r:
                body.append([where, key, f'failed: {r["error"]}', '', '', ''])
                continue
            d = size['differences'].get(key)
            diff = ('reference' if key == size['reference'] else
                    '' if d is None else
                    f'{d["loss"]:.0e} / {d["g_seg"]:.0e} / {d["g_sr"]:.0e}')
            body.append([
                where, key, f'{r["time"]:.2f}', f'{r["peak_mib"]:.0f}',
                f'{r["time"] / size["bound_s"]:.2f}', diff
            ])
    return markdown_table([
        'N (HR size)', 'implementation', 'time (s)', 'peak memory (MiB)',
        'x compute bound', 'relative difference: loss / grad seg / grad sr'
    ], body).splitlines()


def compression_tables(data: dict) -> List[str]:
    """Two tables of ``icnet_camvid_compression.py``'s ``compression.json``:
    each model's parameters, GFLOPs, CPU latency and mIoU over the seeds,
    then the paired (same seed) differences between them.

    Args:
        data (dict): ``seeds``, ``rows`` (``arm``, ``params``, ``gflops``,
            ``latency_ms``, ``mious``) and ``paired_differences`` (name ->
            per-seed differences).

    Returns:
        list[str]: The lines of both tables, a blank line between them.
    """
    n = len(data['seeds'])
    for r in data['rows']:
        if len(r['mious']) != n:
            raise ValueError(f'compression: {r["arm"]!r} has '
                             f'{len(r["mious"])} mIoU values for the '
                             f'{n} seeds {data["seeds"]}')
    models = markdown_table(
        ['model', 'params (M)', 'GFLOPs', 'CPU latency (ms)', 'mIoU',
         'per seed'],
        [[r['arm'], f'{r["params"] / 1e6:.3f}', f'{r["gflops"]:.3f}',
          f'{r["latency_ms"]:.1f}',
          format_mean_std(**mean_std(r['mious'])),
          ', '.join(f'{v:.2f}' for v in r['mious'])]
         for r in data['rows']])
    differences = markdown_table(
        ['paired difference (same seed)', 'per seed', 'mean ± std'],
        [[k, ', '.join(f'{v:+.2f}' for v in d), format_difference(d)]
         for k, d in data['paired_differences'].items()])
    return models.splitlines() + [''] + differences.splitlines()
