"""Resolution-efficiency report: mIoU against inference GFLOPs and latency.

In the spirit of DSRL's Figure 1. Each --entry is ``CONFIG=MIOU`` or
``CONFIG:CHECKPOINT=MIOU`` (mIoU as tools/test.py reports it, or several
comma-separated values from different seeds); GFLOPs and CPU latency are
measured here at --shape, all rows in one call (latency does not depend on
the weights, so a CONFIG without checkpoint times the same graph); --labels
names the entries in the table and plot (default: the config's file name).
Alternatively --results takes the results.json of
tools/experiments/camvid_recipe.py. Writes a Markdown table and a PNG plot.

Example:
    python tools/analysis_tools/efficiency_report.py --results work_dirs/camvid/results.json \
        --out docs/camvid_efficiency
    python tools/analysis_tools/efficiency_report.py --shape 360 480 \
        --entry configs/camvid/dsrl_...py=48.1,47.5 --out report
"""
import argparse
import json
import os
import os.path as osp
from mmseg_dsrl.analysis.cli import positive_int

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_entry(text: str) -> dict:
    if '=' not in text:
        raise ValueError(f'--entry must be CONFIG[:CHECKPOINT]=MIOU[,MIOU..],'
                         f' got {text!r}')
    left, mious = text.rsplit('=', 1)
    config, _, ckpt = left.partition(':')
    try:
        values = [float(v) for v in mious.split(',')]
    except ValueError:
        raise ValueError(f'--entry {text!r}: mIoU must be numbers separated '
                         f'by commas, got {mious!r}') from None
    return dict(config=config, checkpoint=ckpt or None, mious=values)


def measure(rows, shape, runs) -> None:
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.measurement import (
        build_inference_model,
        inference_complexity,
        time_inference,
    )
    from mmseg_dsrl.analysis.configs import load_config
    from mmseg_dsrl.analysis.runs import mean_std
    for row in rows:
        model = build_inference_model(
            load_config(row['config']), row.get('checkpoint'))
        row['gflops'] = inference_complexity(model, shape)['flops'] / 1e9
        row['latency_ms'] = time_inference(
            model, shape, runs=runs, mode='predict')['median'] * 1e3
        stats = mean_std(row['mious'])
        row['miou_mean'], row['miou_std'] = stats['mean'], stats['std']
        row['seeds'] = stats['n']
        row.setdefault('name', osp.splitext(osp.basename(row['config']))[0])


def plot(rows, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in ((axes[0], 'gflops', 'inference GFLOPs'),
                           (axes[1], 'latency_ms', 'CPU latency (ms)')):
        for r in rows:
            ax.errorbar(
                r[key],
                r['miou_mean'],
                yerr=r.get('miou_std', 0),
                fmt='o',
                capsize=3,
                markersize=7,
                label=r['name'])
            ax.annotate(
                r['name'], (r[key], r['miou_mean']),
                fontsize=7,
                xytext=(4, 4),
                textcoords='offset points')
        ax.set_xlabel(label)
        ax.set_ylabel('mIoU (%)')
        ax.grid(alpha=0.3)
    axes[0].set_title('accuracy vs. computation')
    axes[1].set_title('accuracy vs. latency')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--results', help='results.json of camvid_recipe')
    parser.add_argument(
        '--entry',
        nargs='+',
        default=[],
        help='CONFIG[:CHECKPOINT]=MIOU[,MIOU...]')
    parser.add_argument(
        '--labels',
        nargs='+',
        default=None,
        help='one name per --entry, in the same order')
    parser.add_argument(
        '--keys',
        nargs='+',
        default=None,
        help='plot only these rows of --results (camvid_recipe keys, '
        'e.g. the main table without the ablations); default: all')
    parser.add_argument(
        '--shape', type=positive_int, nargs=2, default=[360, 480])
    parser.add_argument('--runs', type=positive_int, default=10)
    parser.add_argument(
        '--out',
        required=True,
        help='output prefix: writes OUT.md and OUT.png')
    args = parser.parse_args()
    if not args.results and not args.entry:
        parser.error('give --results or at least one --entry')
    rows = []
    if args.results:
        with open(args.results) as f:
            rows += json.load(f)
        if args.keys is not None:
            unknown = set(args.keys) - {r.get('key') for r in rows}
            if unknown:
                parser.error(f'--keys {sorted(unknown)} not in '
                             f'{args.results}')
            rows = [r for r in rows if r.get('key') in args.keys]
    try:
        new = [parse_entry(e) for e in args.entry]
    except ValueError as err:
        parser.error(str(err))
    if args.labels is not None:
        if len(args.labels) != len(new):
            parser.error(f'--labels gives {len(args.labels)} names for '
                         f'{len(new)} --entry rows; give one per entry')
        for row, label in zip(new, args.labels):
            row['name'] = label
    measure(new, tuple(args.shape), args.runs)
    rows += new
    from mmseg_dsrl.analysis.runs import format_mean_std
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    lines = [
        '| model | GFLOPs | CPU latency (ms) | mIoU | seeds |',
        '|---|---|---|---|---|'
    ]
    for r in sorted(rows, key=lambda r: r['gflops']):
        seeds = r.get('seeds', 1)
        miou = format_mean_std(r['miou_mean'], r.get('miou_std', 0), seeds)
        lines.append(f'| {r["name"]} | {r["gflops"]:.2f} | '
                     f'{r["latency_ms"]:.1f} | {miou} | {seeds} |')
    with open(args.out + '.md', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    plot(rows, args.out + '.png')
    print('\n'.join(lines))
    print(f'wrote {args.out}.md and {args.out}.png')


if __name__ == '__main__':
    main()
