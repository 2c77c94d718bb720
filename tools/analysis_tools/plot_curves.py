"""Validation curves of recipe runs, as a picture, from their records.

Plots mIoU against iteration for every --keys row of the run records under
--records (one or more folders, e.g. one seed per machine; the mean over
the seeds that have the row, and their range as a band), one line per row,
labelled with the row's name.

Example:
    python tools/analysis_tools/plot_curves.py \\
        --records results/camvid-espnetv2/BATCH \\
        --keys espnetv2-lr espnetv2-dsrl --out docs/images/curves.png
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--records', nargs='+', required=True,
                        help='folders of run records (searched '
                        'recursively)')
    parser.add_argument('--keys', nargs='+', required=True)
    parser.add_argument('--labels', nargs='+', default=None,
                        help='legend labels, one per key (default: names)')
    parser.add_argument('--title', default='')
    parser.add_argument('--out', required=True, help='PNG to write')
    args = parser.parse_args(argv)
    if args.labels is not None and len(args.labels) != len(args.keys):
        parser.error(f'--labels has {len(args.labels)} entries for '
                     f'{len(args.keys)} --keys')
    sys.path.insert(0, REPO)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    from mmseg_dsrl.analysis.run_records import load_records, rows_from_records
    records = [r for folder in args.records for r in load_records(folder)]
    rows = {r['key']: r for r in rows_from_records(records, args.keys)}
    missing = [k for k in args.keys if k not in rows]
    if missing:
        parser.error(f'no records of {missing} under '
                     f'{" ".join(args.records)}')
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    for i, key in enumerate(args.keys):
        curves = [dict(map(tuple, c)) for c in rows[key]['curves'] if c]
        if not curves:
            parser.error(f'{key}: its records have no validation curve')
        iters = sorted(set.intersection(*(set(c) for c in curves)))
        values = np.array([[c[it] for it in iters] for c in curves])
        label = args.labels[i] if args.labels else rows[key]['name']
        n = len(curves)
        line, = ax.plot(iters, values.mean(0), marker='.',
                        label=f'{label} ({n} seed{"s" * (n > 1)})')
        if n > 1:
            ax.fill_between(iters, values.min(0), values.max(0),
                            color=line.get_color(), alpha=0.2)
    ax.set_xlabel('iteration')
    ax.set_ylabel('mIoU (%)')
    ax.set_title(args.title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out)
    print(f'{args.out}: {len(args.keys)} curves')
    return 0


if __name__ == '__main__':
    sys.exit(main())
