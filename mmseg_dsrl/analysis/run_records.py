"""Run records: one small JSON per training run, and the tables of a page
regenerated (and checked) from them.

A record holds what a reader needs to recompute every figure quoted from
the run: ``key`` (the recipe row), ``name``, ``config``, ``cfg_options``,
``seed``, ``iters``, ``split`` (what it was evaluated on), ``mIoU``,
``per_class_iou`` (``IoU.<class>``), ``boundary_mIoU``, ``final_losses``
(logged, weighted terms over the last 20 % of training), ``train_s``,
``s_per_iter``, ``curve`` (``[iteration, mIoU]`` of every validation),
``gflops``, ``latency_ms`` (of that call), ``provenance`` (where it ran)
and ``source`` (how the record was made).

A page embeds generated tables between markers::

    <!-- generated from records: paired iters=3000 reference=lr keys=dsrl -->
    | ... |
    <!-- end generated -->

``python tools/experiments/camvid_recipe.py --from-records DIR [--check]``
rewrites (or checks) every such block from the records under ``DIR``.
"""
import json
import os
import os.path as osp
import re
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

from .result_tables import (
    DETAIL_KEYS,
    compact_table,
    detail_table,
    loss_table,
    paired_table,
    summary_table,
)
from .runs import final_training_losses, format_difference, mean_std
from .training_logs import markdown_table

REQUIRED = ('key', 'name', 'config', 'seed', 'iters', 'split', 'mIoU',
            'provenance', 'source')


def validation_curve(run_dir: str) -> List[List[float]]:
    """``[iteration, mIoU]`` of every validation in the run's own mmengine
    text logs (``run_dir/<timestamp>/<timestamp>.log``), each at the last
    training iteration logged before it.

    Not from ``vis_data/scalars.json``: when several Runners train in one
    process (a recipe), mmengine 0.10.7 writes the later runs' scalars into
    the first run's file.
    """
    import glob
    train_re = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/\d+\]')
    val_re = re.compile(r'Iter\(val\)\s*\[\s*(\d+)/(\d+)\].*?\bmIoU:\s*'
                        r'(-?[\d.]+)')
    points: Dict[int, float] = {}
    for log in sorted(glob.glob(osp.join(run_dir, '*', '*.log'))):
        last_iter = 0
        with open(log) as f:
            for line in f:
                train = train_re.search(line)
                if train:
                    last_iter = int(train.group(1))
                    continue
                val = val_re.search(line)
                if val and val.group(1) == val.group(2):
                    points[last_iter] = float(val.group(3))
    return [[it, points[it]] for it in sorted(points)]


def _configured_iterations(run_dir: str, config: str) -> int:
    """The schedule a run used when its recipe gave no ``--iters``: the
    ``max_iters`` of the config the runner dumped into ``run_dir``."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(run_dir, osp.basename(config)))
    return int(cfg.train_cfg.max_iters)


def portable_path(path: str, start: Optional[str] = None) -> str:
    """``path`` relative to ``start`` (default: the working directory) when
    it lies under it, else ``path`` unchanged: what a record keeps of a file
    it names (a teacher's checkpoint), so that it names no machine's
    folders where it need not.

    Args:
        path: a file's path, absolute or relative to the working directory.
        start: the folder to make it relative to.

    Returns:
        str: the relative path, or ``path`` as given when it is outside
        ``start``.
    """
    start = osp.abspath(start or os.getcwd())
    relative = osp.relpath(osp.abspath(path), start)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return path
    return relative


def record_from_run(run_dir: str, key: str, name: str, config: str,
                    cfg_options: Optional[dict], metrics: dict,
                    input_size: str, split: str = 'val',
                    gflops: Optional[float] = None,
                    latency_ms: Optional[float] = None) -> dict:
    """The record of a finished recipe run (``metrics``: its
    metrics.json; ``input_size``: what the network sees, e.g. '180x240')."""
    per_class = {k: v for k, v in metrics.items() if k.startswith('IoU.')}
    return dict(
        key=key,
        name=name,
        config=config,
        cfg_options=cfg_options,
        input=input_size,
        seed=metrics['seed'],
        iters=(metrics['iters'] if metrics['iters'] is not None else
               _configured_iterations(run_dir, config)),
        split=split,
        mIoU=metrics['mIoU'],
        per_class_iou=per_class,
        boundary_mIoU=metrics.get('boundary3/mIoU'),
        final_losses=final_training_losses(run_dir),
        train_s=metrics.get('train_s'),
        s_per_iter=metrics.get('s_per_iter'),
        curve=validation_curve(run_dir),
        gflops=gflops,
        latency_ms=latency_ms,
        provenance=metrics.get('provenance') or {},
        source='tools/experiments/camvid_recipe.py')


def record_name(record: dict) -> str:
    return f'{record["key"]}_seed{record["seed"]}.json'


def write_record(record: dict, folder: str) -> str:
    """Write ``record`` as ``folder/<key>_seed<S>.json``; an existing
    record of the same run is only replaced by an identical one (a record
    is never silently overwritten)."""
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ValueError(f'record lacks {missing}')
    os.makedirs(folder, exist_ok=True)
    path = osp.join(folder, record_name(record))
    text = json.dumps(record, indent=1, sort_keys=True) + '\n'
    if osp.isfile(path):
        with open(path) as f:
            if f.read() != text:
                raise FileExistsError(
                    f'{path} holds another record of this run; move it away '
                    'to replace it')
        return path
    with open(path, 'w') as f:
        f.write(text)
    return path


def load_records(folder: str) -> List[dict]:
    """Every record under ``folder`` (recursively), checked for the required
    fields, in path order."""
    records = []
    for dirpath, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            if not name.endswith('.json'):
                continue
            path = osp.join(dirpath, name)
            with open(path) as f:
                record = json.load(f)
            if not isinstance(record, dict) or 'key' not in record:
                continue  # not a run record (e.g. an old results.json)
            missing = [k for k in REQUIRED if k not in record]
            if missing:
                raise ValueError(f'{path}: record lacks {missing}')
            record['_path'] = osp.relpath(path, folder)
            records.append(record)
    return records


def rows_from_records(records: Sequence[dict],
                      keys: Optional[Sequence[str]] = None) -> List[dict]:
    """Recipe table rows (see :mod:`.result_tables`), one per key, seeds in
    ascending order; ``keys`` picks and orders them (default: order of
    first appearance)."""
    by_key: Dict[str, List[dict]] = {}
    for r in records:
        by_key.setdefault(r['key'], []).append(r)
    order = list(keys) if keys is not None else list(by_key)
    rows = []
    for key in order:
        runs = sorted(by_key.get(key, []), key=lambda r: r['seed'])
        if not runs:
            continue
        seeds = [r['seed'] for r in runs]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f'{key}: several records of one seed '
                             f'({[r["_path"] for r in runs]})')
        mious = [r['mIoU'] for r in runs]
        stats = mean_std(mious)
        first = runs[0]
        details = []
        for r in runs:
            d = {k: r['per_class_iou'].get(k) for k in DETAIL_KEYS[1:]}
            d[DETAIL_KEYS[0]] = r.get('boundary_mIoU')
            details.append(d)
        train = [r['train_s'] for r in runs if r.get('train_s') is not None]
        iters = sorted({r['iters'] for r in runs if r['iters'] is not None})
        rows.append(
            dict(
                key=key,
                name=first['name'],
                iters=', '.join(map(str, iters)),
                config=first['config'],
                cfg_options=first.get('cfg_options'),
                input=first.get('input', ''),
                gflops=first.get('gflops') or 0.0,
                latency_ms=first.get('latency_ms') or 0.0,
                miou_mean=stats['mean'],
                miou_std=stats['std'],
                seeds=stats['n'],
                mious=mious,
                seed_list=seeds,
                details=details,
                final_losses=[r.get('final_losses') or {} for r in runs],
                train_min=statistics.fmean(train) / 60 if train else 0.0,
                curves=[r.get('curve') or [] for r in runs]))
    return rows


def curve_table(rows: Sequence[dict]) -> List[str]:
    """Validation mIoU along training, mean over seeds, one column per
    validated iteration (the iterations every seed of the row has); the
    seeds column names them, since rows may have different seeds."""
    iters = sorted({int(p[0]) for r in rows for c in r['curves'] for p in c})
    cells = []
    for r in rows:
        line = [r['name'], ', '.join(map(str, r['seed_list']))]
        for it in iters:
            values = [v for c in r['curves'] for i, v in c if int(i) == it]
            line.append(f'{statistics.fmean(values):.2f}'
                        if len(values) == len(r['curves']) else '')
        cells.append(line)
    return [''] + markdown_table(
        ['model', 'seeds'] + [f'{i} it' for i in iters], cells).split('\n')


def _mious_by_key(rows: Sequence[dict]) -> Dict[str, Dict[int, float]]:
    """``{key: {seed: mIoU}}`` of table rows."""
    return {r['key']: dict(zip(r['seed_list'], r['mious'])) for r in rows}


def _gap_cells(gaps: Sequence[float], shares: Sequence[float]) -> List[str]:
    """The gap, share-closed and mean cells of a gap-share table row."""
    return [', '.join(f'{g:+.2f}' for g in gaps),
            ', '.join(f'{s:+.0f} %' for s in shares),
            format_difference(shares, digits=0, unit=' %')]


def gap_table(rows: Sequence[dict], low: str, high: str,
              keys: Sequence[str]) -> List[str]:
    """Per seed, the share of the ``low`` -> ``high`` mIoU gap each row of
    ``keys`` closes: (row - low) / (high - low), seeds all three share."""
    by_key = _mious_by_key(rows)
    if low not in by_key or high not in by_key:
        return []
    names = {r['key']: r['name'] for r in rows}
    cells = []
    for key in keys:
        if key not in by_key:
            continue
        seeds = sorted(set(by_key[key]) & set(by_key[low]) & set(by_key[high]))
        if not seeds:
            continue
        gaps = [by_key[high][s] - by_key[low][s] for s in seeds]
        shares = [(by_key[key][s] - by_key[low][s]) / g * 100
                  for s, g in zip(seeds, gaps)]
        cells.append([names[key], ', '.join(map(str, seeds))] +
                     _gap_cells(gaps, shares))
    if not cells:
        return []
    return [''] + markdown_table([
        'model', 'seeds', f'gap {names[low]} -> {names[high]}',
        'share of the gap closed', 'mean ± std'
    ], cells).split('\n')


def _paired_by_seed(row: dict, ref: Optional[dict]) -> Dict[int, float]:
    """``{seed: mIoU}`` of a row, or minus ``ref``'s same seed when given."""
    values = dict(zip(row['seed_list'], row['mious']))
    if ref is None:
        return values
    base = dict(zip(ref['seed_list'], ref['mious']))
    return {s: v - base[s] for s, v in values.items() if s in base}


def machines_table(rows_a: Sequence[dict], rows_b: Sequence[dict],
                   labels: Sequence[str], keys: Sequence[str],
                   reference: Optional[str] = None) -> List[str]:
    """The same rows and seeds trained in two batches of runs (two
    machines): per row, the seeds both have, each batch's figure per seed
    and their difference (b - a). The figure is the mIoU, or with
    ``reference`` the paired difference row - reference of the same seed
    within each batch (does a paired result reproduce on another
    machine?)."""
    def by_key(rows):
        return {r['key']: r for r in rows}

    a, b = by_key(rows_a), by_key(rows_b)
    if reference is not None and (reference not in a or reference not in b):
        return []
    cells = []
    for key in keys:
        if key not in a or key not in b or key == reference:
            continue
        va = _paired_by_seed(a[key], a.get(reference) if reference else None)
        vb = _paired_by_seed(b[key], b.get(reference) if reference else None)
        seeds = sorted(set(va) & set(vb))
        if not seeds:
            continue
        fmt = '{:+.2f}' if reference else '{:.2f}'
        diffs = [vb[s] - va[s] for s in seeds]
        cells.append([
            a[key]['name'], ', '.join(map(str, seeds)),
            ', '.join(fmt.format(va[s]) for s in seeds),
            ', '.join(fmt.format(vb[s]) for s in seeds),
            ', '.join(f'{d:+.2f}' for d in diffs),
            format_difference(diffs)
        ])
    if not cells:
        return []
    what = (f'minus {reference}, same seed and machine'
            if reference else 'mIoU')
    return [''] + markdown_table([
        f'model ({what})', 'seeds', labels[0], labels[1],
        'second - first', 'mean ± std'
    ], cells).split('\n')


def pooled_table(batches: Sequence[Sequence[dict]], labels: Sequence[str],
                 keys: Sequence[str], reference: str,
                 high: Optional[str] = None) -> List[str]:
    """Paired differences pooled over batches of runs (machines) without
    pairing across them: per row and seed, ``row - reference`` within the
    first batch (in the order given) that has both for that seed; with
    ``high``, the share of the ``reference`` -> ``high`` gap the row closes,
    all three from that one batch. The seeds column names the batch each
    seed's figure comes from; the figures follow that column's order."""
    by_batch = [_mious_by_key(rows) for rows in batches]
    names = {r['key']: r['name'] for rows in batches for r in rows}
    needed = [reference] + ([high] if high else [])
    cells = []
    for key in keys:
        if key in needed:
            continue
        picked = {}  # seed -> batch index
        for i, rows in enumerate(by_batch):
            if key not in rows or any(k not in rows for k in needed):
                continue
            for seed in rows[key]:
                if seed not in picked and all(seed in rows[k]
                                              for k in needed):
                    picked[seed] = i
        if not picked:
            continue
        # grouped by folder, in the order the seeds column names them
        seeds = sorted(picked, key=lambda s: (picked[s], s))
        values, gaps = [], []
        for s in seeds:
            rows = by_batch[picked[s]]
            diff = rows[key][s] - rows[reference][s]
            if high:
                gaps.append(rows[high][s] - rows[reference][s])
                values.append(diff / gaps[-1] * 100)
            else:
                values.append(diff)
        where = '; '.join(
            f'{", ".join(str(s) for s in seeds if picked[s] == i)} '
            f'({labels[i]})' for i in sorted(set(picked.values())))
        cells.append([names[key], where] + (
            _gap_cells(gaps, values) if high else
            [', '.join(f'{v:+.2f}' for v in values),
             format_difference(values)]))
    if not cells:
        return []
    if high:
        head = [f'gap {names[reference]} -> {names[high]}',
                'share of the gap closed']
    else:
        head = [f'minus {names[reference]}, same seed and machine']
    return [''] + markdown_table(
        ['model', 'seeds (records folder)'] + head + ['mean ± std'],
        cells).split('\n')


def _batch_label(folder: str, records: Sequence[dict]) -> str:
    """A batch folder named with the CPU its runs had (from provenance)."""
    cpus = sorted({
        re.sub(r'\((R|TM)\)| Processor| CPU', '',
               str((r.get('provenance') or {}).get(
                   'cpu', 'CPU not recorded'))).strip()
        for r in records
    })
    return f'{folder} ({", ".join(cpus)})'


_BLOCK = re.compile(
    r'(<!-- generated from records: (?P<spec>[^>]*?) -->\n)'
    r'(?P<body>.*?)'
    r'(<!-- end generated -->)', re.S)


def _parse_spec(spec: str) -> Tuple[str, Dict[str, str]]:
    kind, *pairs = spec.split()
    options = {}
    for pair in pairs:
        if '=' not in pair:
            raise ValueError(f'generated block "{spec}": expected k=v, got '
                             f'{pair!r}')
        k, v = pair.split('=', 1)
        options[k] = v
    return kind, options


def _render_batches(kind: str, spec: str, options: Dict[str, str],
                    records: Sequence[dict],
                    keys: Optional[Sequence[str]]) -> str:
    """The blocks over several record folders (``dirs=A,B``): ``machines``
    (the same seeds compared between two folders) and ``pooled`` (paired
    differences, or gap shares with ``high=``, each within one folder)."""
    folders = [f.rstrip('/') for f in options.get('dirs', '').split(',')]
    if kind == 'machines' and (len(folders) != 2 or keys is None):
        raise ValueError(f'generated block "{spec}": machines needs '
                         'dirs=A,B (two record folders) and keys=')
    if kind == 'pooled' and (len(folders) < 2 or keys is None
                             or 'reference' not in options):
        raise ValueError(f'generated block "{spec}": pooled needs '
                         'dirs=A,B[,...] (record folders, in the order '
                         'seeds are taken from), reference= and keys=')
    batches = [[r for r in records if r['_path'].startswith(f + '/')]
               for f in folders]
    labels = [_batch_label(f, b) for f, b in zip(folders, batches)]
    rows = [rows_from_records(b) for b in batches]
    if kind == 'machines':
        lines = machines_table(rows[0], rows[1], labels, keys,
                               options.get('reference'))[1:]
    else:
        lines = pooled_table(rows, labels, keys, options['reference'],
                             options.get('high'))[1:]
    if not lines:
        raise ValueError(f'generated block "{spec}": the records give no '
                         'rows for it')
    return '\n'.join(lines) + '\n'


def render_block(spec: str, records: Sequence[dict],
                 link_prefix: str = '') -> str:
    """The Markdown of one generated block (``spec``: the marker's text:
    a table kind, then ``dir=SUBFOLDER`` (records of one batch of runs,
    e.g. one machine), ``iters=N``, ``keys=a,b``, ``reference=k``,
    ``low=k``, ``high=k``, ``output=HxW``; the ``machines`` table takes
    ``dirs=A,B``: two batches of the same rows, compared seed by seed; the
    ``pooled`` table takes ``dirs=A,B,...``, ``reference=`` and optionally
    ``high=``: paired differences or gap shares, each seed's from the first
    folder that has all its rows; the other kinds take ``dirs=A,B,...`` as
    the union of those batches, which must not hold a seed of a key
    twice)."""
    kind, options = _parse_spec(spec)
    known = {'dir', 'dirs', 'iters', 'keys', 'reference', 'low', 'high',
             'output'}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f'generated block "{spec}": unknown options '
                         f'{unknown} (known: {sorted(known)})')
    folder = options.get('dir', '').rstrip('/')
    chosen = [
        r for r in records
        if ('iters' not in options or str(r['iters']) == options['iters'])
        and (not folder or r['_path'].startswith(folder + '/'))
    ]
    keys = options['keys'].split(',') if 'keys' in options else None
    if kind in ('machines', 'pooled'):
        return _render_batches(kind, spec, options, chosen, keys)
    if 'dirs' in options:
        # One table over several batches (e.g. one seed per machine): each
        # key's seeds from any of them, a seed in two of them refused.
        if folder:
            raise ValueError(f'generated block "{spec}": give dir= or dirs=, '
                             'not both')
        folders = [f.rstrip('/') for f in options['dirs'].split(',')]
        chosen = [r for r in chosen
                  if any(r['_path'].startswith(f + '/') for f in folders)]
        folder = ', '.join(folders)
    rows = rows_from_records(chosen)
    picked = rows_from_records(chosen, keys) if keys else rows
    absent = [k for k in keys or [] if k not in {r['key'] for r in rows}]
    if absent:
        raise ValueError(f'generated block "{spec}": no records of {absent} '
                         f'(in {folder or "the records folder"})')
    for row in picked:
        row['config'] = link_prefix + row['config']
    if kind == 'summary':
        lines = summary_table(picked, output=options.get('output', ''))
    elif kind == 'compact':
        lines = compact_table(picked, output=options.get('output', ''))
    elif kind == 'detail':
        lines = detail_table(picked)[1:]
    elif kind == 'losses':
        lines = loss_table(picked)[1:]
    elif kind == 'curves':
        lines = curve_table(picked)[1:]
    elif kind == 'paired':
        lines = paired_table(rows, options.get('reference', 'lr'), keys)[1:]
    elif kind == 'gap':
        lines = gap_table(rows, options['low'], options['high'],
                          keys or [])[1:]
    else:
        raise ValueError(f'unknown generated table kind {kind!r} '
                         '(summary, compact, detail, losses, curves, paired, '
                         'gap, '
                         'machines, pooled)')
    if not lines:
        raise ValueError(f'generated block "{spec}": the records give no '
                         'rows for it')
    return '\n'.join(lines) + '\n'


def regenerate(page: str, records: Sequence[dict],
               link_prefix: str = '') -> str:
    """``page`` with every generated block rendered from ``records``
    (``link_prefix``: the repository root relative to the page, for the
    config links, e.g. '../../')."""
    return _BLOCK.sub(
        lambda m: m.group(1) + render_block(m.group('spec'), records,
                                            link_prefix) + m.group(4), page)


def first_difference(old: str, new: str) -> Optional[str]:
    """None when equal, else the first differing line of each."""
    if old == new:
        return None
    a, b = old.splitlines(), new.splitlines()
    for i, (x, y) in enumerate(zip(a, b), 1):
        if x != y:
            return f'line {i}:\n  page:    {x}\n  records: {y}'
    return f'line {min(len(a), len(b)) + 1}: one side ends'
