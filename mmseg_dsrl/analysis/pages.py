"""Every results figure of the documentation, generated from committed
records and checked against them.

Pages (``README.md``, ``configs/*/README.md``, ``docs/*.md``) embed
generated blocks between markers::

    <!-- records: results/camvid-espnetv2 -->       (once: the page's root)
    <!-- generated from records: summary dir=BATCH keys=lr,dsrl -->
    | ... |
    <!-- end generated -->

The run-record kinds (``summary``, ``curves``, ``paired``, ``gap``, ...:
:func:`mmseg_dsrl.analysis.run_records.render_block`) read the run records
under the page's root (or the block's own ``records=FOLDER``), ``dir=`` and
``dirs=`` relative to it. Other kinds read raw files instead
(``file=PATH`` or ``files=A,B``, relative to the repository):

* ``demo``: the rows ``tools/run_demo.py`` writes (``demo_results.json``);
* ``deployment``: what ``tools/deployment/deployment_benchmark.py --out``
  writes (``deployment.json``), a row per model and path or, with
  ``layout=wide``, a row per model and a column per path;
* ``deployed-miou``: mIoU per deployment path of ``evaluate_deployed.py``
  records (``files=A,B,...``, merged per checkpoint, ``paths=`` the
  columns in order, each with its difference from ``eager``);
* ``timing`` (``files=``), ``operators``, ``gpu-check``, ``flops``,
  ``icnet-benchmark``, ``fa-benchmark`` and ``compression`` (``file=``),
  ``onnx-profile`` and ``int8-mixed`` (``files=``): the measuring tools'
  raw JSON
  (:mod:`mmseg_dsrl.analysis.measurement_tables`).

Metafiles (``configs/*/metafile.yaml``) are checked, not written: an entry
has ``Results`` exactly when committed records of its config as shipped
exist, and its mIoU is their seed mean (:func:`metafile_differences`).

``python tools/generate_pages.py [--check]`` rewrites (or checks) them all.
"""
import glob
import json
import os.path as osp
import re
import statistics
from typing import Dict, Iterable, List, Optional, Sequence

from .measurement_tables import (compression_tables, fa_benchmark_table,
                                 flops_table, gpu_check_table,
                                 icnet_benchmark_table, int8_mixed_table,
                                 onnx_profile_table, operators_table,
                                 run_label, timing_table)
from .run_records import _BLOCK, first_difference, load_records, render_block
from .training_logs import markdown_table

__all__ = [
    'page_paths', 'metafile_paths', 'demo_table', 'deployment_table',
    'deployment_wide_table',
    'deployed_miou_table',
    'regenerate_page', 'metafile_differences', 'shipped_results'
]

_ROOT = re.compile(r'<!-- records: (?P<root>\S+) -->')
#: The demo's thin classes, in its table's order.
DEMO_THIN = ('lane_marking', 'pole', 'sign')


def page_paths(repo: str) -> List[str]:
    """The pages that may hold generated blocks, relative to ``repo``."""
    pages = ['README.md'] + sorted(
        glob.glob('configs/*/README.md', root_dir=repo)) + sorted(
            glob.glob('docs/*.md', root_dir=repo))
    return [p for p in pages if osp.isfile(osp.join(repo, p))]


def metafile_paths(repo: str) -> List[str]:
    return sorted(glob.glob('configs/*/metafile.yaml', root_dir=repo))


def demo_table(rows: Sequence[dict], link_prefix: str = '') -> List[str]:
    """The demo's table: each model's config, mIoU, thin-class IoU and
    inference GFLOPs."""
    headers = ['model', 'mIoU'] + [f'IoU {c}' for c in DEMO_THIN] + [
        'GFLOPs (256x512)', 'iterations', 'seed'
    ]
    body = [[
        f'[{r["model"]}]({link_prefix}{r["config"]})', f'{r["mIoU"]:.2f}',
        *[f'{r["IoU." + c]:.2f}' for c in DEMO_THIN], f'{r["gflops"]:.3f}',
        str(r.get('iters', '')), str(r.get('seed', ''))
    ] for r in rows]
    return markdown_table(headers, body).splitlines()


def deployment_table(result: dict) -> List[str]:
    """The deployment benchmark's table (``deployment.json``): latency,
    speed-up over eager fp32, distance from the compute bound and agreement
    with eager fp32, per model and path; paths not run say why."""
    lines = [
        '| model | path | latency (ms) | speed-up vs. eager fp32 | x compute '
        'bound | labels agree (%) | max abs logit diff |',
        '|---|---|---|---|---|---|---|'
    ]
    for r in result['rows']:
        lines.append(
            f'| {r["model"]} | {r["path"]} | {r["latency_ms"]:.1f} | '
            f'{r["speedup"]:.2f}x | {r["x_bound"]:.1f}x | '
            f'{r["label_agreement"]:.2f} | {r["max_abs_diff"]:.1e} |')
    for s in result.get('skipped', []):
        lines.append(f'| {s["model"]} | {s["path"]} | not run: '
                     f'{s["reason"]} | | | | |')
    return lines


def deployment_wide_table(result: dict) -> List[str]:
    """The deployment benchmark's table with one row per model and one
    column per path (in the run's order): latency in ms with its multiple
    of the compute bound, the fastest path in bold, and the lowest label
    agreement with eager fp32 over the model's paths; a path not run says
    so, its reasons numbered below the table."""
    paths: List[str] = []
    models: List[str] = []
    for r in list(result['rows']) + list(result.get('skipped', [])):
        paths += [r['path']] if r['path'] not in paths else []
        models += [r['model']] if r['model'] not in models else []
    got = {(r['model'], r['path']): r for r in result['rows']}
    reasons: List[str] = []
    skipped = {}
    for s in result.get('skipped', []):
        if s['reason'] not in reasons:
            reasons.append(s['reason'])
        skipped[s['model'], s['path']] = reasons.index(s['reason']) + 1
    body = []
    for model in models:
        runs = [got[model, p] for p in paths if (model, p) in got]
        fastest = min(runs, key=lambda r: r['latency_ms'])
        worst = min(runs, key=lambda r: r['label_agreement'])
        cells = [model]
        for path in paths:
            r = got.get((model, path))
            if r is None:
                cells.append(f'not run ({skipped[model, path]})'
                             if (model, path) in skipped else '')
                continue
            cell = f'{r["latency_ms"]:.1f} ({r["x_bound"]:.1f}x)'
            cells.append(f'**{cell}**' if r is fastest else cell)
        cells.append(f'{worst["label_agreement"]:.2f} ({worst["path"]})')
        body.append(cells)
    lines = markdown_table(['model', *paths, 'lowest label agreement (%)'],
                           body).splitlines()
    if reasons:
        lines.append('')
        lines += [f'({i}) {why}' for i, why in enumerate(reasons, 1)]
    return lines


def deployed_miou_table(records: Sequence[dict],
                        paths: Sequence[str]) -> List[str]:
    """mIoU of each checkpoint (rows, merged over ``records`` of the same
    config and checkpoint) along each deployment path (columns); a path a
    record skipped says why in a word, one no record has is blank."""
    merged: Dict[tuple, dict] = {}
    for r in records:
        row = merged.setdefault((r['config'], r['checkpoint']),
                                dict(results={}, skipped={}))
        row['results'].update(r['results'])
        row['skipped'].update(r.get('skipped') or {})
    body = []
    for (config, _), row in merged.items():
        eager = row['results'].get('eager', {}).get('mIoU')
        cells = [config.rsplit('/', 1)[-1]]
        for path in paths:
            got = row['results'].get(path)
            if got is None:
                cells.append('refused' if path in row['skipped'] else '')
            elif path == 'eager' or eager is None:
                cells.append(f'{got["mIoU"]:.2f}')
            else:
                cells.append(f'{got["mIoU"]:.2f} ({got["mIoU"] - eager:+.2f})')
        body.append(cells)
    return markdown_table(['config', *paths],
                          body).splitlines()


def _options(spec: str) -> Dict[str, str]:
    return dict(p.split('=', 1) for p in spec.split()[1:] if '=' in p)


def _load_json(repo: str, name: str):
    with open(osp.join(repo, name)) as f:
        return json.load(f)


def _one_file_block(kind: str, data, options: Dict[str, str],
                    link_prefix: str) -> List[str]:
    if kind == 'demo':
        return demo_table(data, link_prefix)
    if kind == 'deployment':
        return (deployment_wide_table(data) if options.get('layout') == 'wide'
                else deployment_table(data))
    if kind == 'gpu-check':
        return gpu_check_table(data)
    if kind == 'flops':
        return flops_table(data, link_prefix)
    if kind == 'icnet-benchmark':
        return icnet_benchmark_table(data)
    if kind == 'fa-benchmark':
        return fa_benchmark_table(data)
    if kind == 'compression':
        return compression_tables(data)
    return operators_table(data)


def _files_block(kind: str, names: List[str], records: List[dict],
                 options: Dict[str, str], spec: str) -> List[str]:
    if kind == 'deployed-miou':
        if 'paths' not in options:
            raise ValueError(f'generated block "{spec}": deployed-miou needs '
                             'paths=p,q,... (the columns)')
        return deployed_miou_table(records, options['paths'].split(','))
    if kind == 'timing':
        return timing_table(
            {run_label(n): r for n, r in zip(names, records)})
    if kind == 'int8-mixed':
        return int8_mixed_table(records)
    return onnx_profile_table(records)


#: Kinds that read one raw file (``file=``) or several (``files=``).
ONE_FILE_KINDS = ('demo', 'deployment', 'operators', 'gpu-check', 'flops',
                  'icnet-benchmark', 'fa-benchmark', 'compression')
FILES_KINDS = ('deployed-miou', 'timing', 'onnx-profile', 'int8-mixed')


def _render(spec: str, repo: str, page_dir: str,
            root: Optional[str], cache: Dict[str, list]) -> str:
    kind = spec.split()[0]
    options = _options(spec)
    up = osp.relpath(repo, page_dir)
    link_prefix = '' if up == '.' else up + '/'
    if kind in FILES_KINDS:
        if 'files' not in options:
            raise ValueError(f'generated block "{spec}": {kind} needs '
                             'files=A,B,... (relative to the repository)')
        names = options['files'].split(',')
        records = [_load_json(repo, n) for n in names]
        return '\n'.join(
            _files_block(kind, names, records, options, spec)) + '\n'
    if kind in ONE_FILE_KINDS:
        if 'file' not in options:
            raise ValueError(f'generated block "{spec}": {kind} needs '
                             'file=PATH (relative to the repository)')
        data = _load_json(repo, options['file'])
        return '\n'.join(
            _one_file_block(kind, data, options, link_prefix)) + '\n'
    folder = options.pop('records', None) or root
    if folder is None:
        raise ValueError(f'generated block "{spec}": the page names no '
                         'records folder (<!-- records: FOLDER --> or '
                         'records=FOLDER in the block)')
    if folder not in cache:
        cache[folder] = load_records(osp.join(repo, folder))
    spec = ' '.join(p for p in spec.split() if not p.startswith('records='))
    return render_block(spec, cache[folder], link_prefix)


def regenerate_page(text: str, repo: str, page: str) -> str:
    """``text`` (the page at ``page``, relative to ``repo``) with every
    generated block rendered from its records."""
    match = _ROOT.search(text)
    root = match.group('root') if match else None
    page_dir = osp.dirname(osp.join(repo, page))
    cache: Dict[str, list] = {}
    return _BLOCK.sub(
        lambda m: m.group(1) + _render(m.group('spec'), repo, page_dir, root,
                                       cache) + m.group(4), text)


def _schedule(config: str) -> Optional[int]:
    match = re.search(r'-(\d+)i_', osp.basename(config))
    return int(match.group(1)) if match else None


def shipped_results(repo: str) -> Dict[str, List[float]]:
    """Per config, the val mIoU of each seed run of it as shipped (no
    overrides, its own schedule), from the run records under ``results/``
    and the demo's rows; a seed run on several machines counts once, as
    the mean of its runs."""
    by_seed: Dict[str, Dict[int, List[float]]] = {}
    for folder in sorted(glob.glob('results/*/', root_dir=repo)):
        for r in load_records(osp.join(repo, folder)):
            iters = _schedule(r['config'])
            ran = iters if r['iters'] is None else r['iters']
            if r.get('cfg_options') or r['split'] != 'val' or ran != iters:
                continue
            by_seed.setdefault(r['config'], {}).setdefault(
                r['seed'], []).append(r['mIoU'])
    for path in sorted(glob.glob('results/demo/*.json', root_dir=repo)):
        with open(osp.join(repo, path)) as f:
            for row in json.load(f):
                if row.get('iters') in (None, _schedule(row['config'])):
                    by_seed.setdefault(row['config'], {}).setdefault(
                        row.get('seed'), []).append(row['mIoU'])
    return {
        config: [statistics.fmean(runs) for _, runs in sorted(
            seeds.items(), key=lambda item: str(item[0]))]
        for config, seeds in by_seed.items()
    }


def metafile_differences(repo: str, metafile: str,
                         results: Dict[str, List[float]]) -> List[str]:
    """What in ``metafile`` disagrees with the committed records: Results
    without records, records without Results, or an mIoU that is not the
    seed mean (rounded to 2 decimals)."""
    import yaml
    with open(osp.join(repo, metafile)) as f:
        models = yaml.safe_load(f).get('Models', [])
    problems = []
    for model in models:
        runs = results.get(model['Config'], [])
        shown = (model.get('Results') or {}).get('Metrics', {}).get('mIoU')
        if not runs and shown is not None:
            problems.append(f'{metafile}: {model["Name"]} shows mIoU {shown} '
                            'but no committed record of its config as '
                            'shipped exists')
        elif runs and round(statistics.fmean(runs), 2) != shown:
            problems.append(
                f'{metafile}: {model["Name"]} shows mIoU {shown}; its '
                f'{len(runs)} seed(s) give '
                f'{round(statistics.fmean(runs), 2)}')
    return problems


def check_all(repo: str, write: bool = False) -> List[str]:
    """Regenerate (``write``) or compare every page, then check every
    metafile; the list of differences (empty when all agree)."""
    problems = []
    for page in page_paths(repo):
        path = osp.join(repo, page)
        with open(path) as f:
            text = f.read()
        new = regenerate_page(text, repo, page)
        diff = first_difference(text, new)
        if diff is None:
            continue
        if write:
            with open(path, 'w') as f:
                f.write(new)
        else:
            problems.append(f'{page} differs from its records, {diff}')
    results = shipped_results(repo)
    for metafile in metafile_paths(repo):
        problems += metafile_differences(repo, metafile, results)
    return problems


def pages_with_blocks(repo: str) -> Iterable[str]:
    for page in page_paths(repo):
        with open(osp.join(repo, page)) as f:
            if _BLOCK.search(f.read()):
                yield page
