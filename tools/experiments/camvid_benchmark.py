"""CamVid results recipe: DSRL vs. its same-input baseline (and references).

Trains each model from scratch on CamVid train with the same schedule and
evaluates on val (11 classes, void ignored), once per seed of --seeds. Then
measures inference GFLOPs and CPU latency at 360x480 and writes results.json
and results.md under --work-dir (new folder each run unless given). Runs that
finished in --work-dir (their metrics.json and checkpoint are there) are
reused, so an interrupted benchmark continues where it stopped and more seeds
can be added later.

Example (about 100 minutes on a 2-core CPU):
    python tools/experiments/camvid_benchmark.py \
        --data-root ../shared/datasets/camvid
    python tools/experiments/camvid_benchmark.py --data-root D \
        --models dsrl lr --seeds 0
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from mmseg_dsrl.utils.cli import non_negative_int, positive_int

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

MODELS = {
    'full': ('BiSeNetV1-R18 w0.5, 360x480 input',
             'configs/camvid/bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-'
             '360x480.py', (360, 480)),
    'lr': ('same, 180x240 input (bilinear to 360x480)',
           'configs/camvid/lr-input_bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-'
           '180x240.py', (180, 240)),
    'dsrl': ('DSRL, 180x240 input -> 360x480',
             'configs/camvid/dsrl_bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-'
             '180x240.py', (180, 240)),
    'icnet': ('ICNet-R18 w0.5 (paper cascade), 360x480',
              'configs/camvid/icnet-cascade_r18-d8-w0.5_1xb4-1000i_camvid-'
              '360x480.py', (360, 480)),
}
# Ablations of the DSRL row (same config, parts switched off with
# --cfg-options-style overrides): which of SISR and FA carries the effect,
# and does a lighter FA term help?
ABLATIONS = {
    'dsrl-no-fa': ('DSRL without FA (SSSR + SISR)', 'dsrl', {
        'model.fa_loss': None
    }),
    'dsrl-fa-w0.1': ('DSRL, FA weight 0.1 (paper: 1.0)', 'dsrl', {
        'model.fa_loss.loss_weight': 0.1
    }),
    'sssr-only': ('SSSR only (no SISR, no FA)', 'dsrl', {
        'model.fa_loss': None,
        'model.sisr_head': None
    }),
}


def resolve(key: str) -> tuple:
    """``(name, config, input shape, cfg_options)`` of ``key``."""
    if key in ABLATIONS:
        name, base, options = ABLATIONS[key]
        return (name, *MODELS[base][1:], options)
    return (*MODELS[key], None)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--data-root', required=True, help='CamVid in the SegNet layout')
    parser.add_argument('--work-dir', default=None)
    parser.add_argument(
        '--models',
        nargs='+',
        default=list(MODELS),
        choices=list(MODELS) + list(ABLATIONS),
        help='rows to train; ablations of DSRL: ' + ', '.join(ABLATIONS))
    parser.add_argument(
        '--seeds', type=non_negative_int, nargs='+', default=[0, 1])
    parser.add_argument(
        '--iters',
        type=positive_int,
        default=None,
        help='override the configs\' 1000 iterations')
    parser.add_argument('--latency-runs', type=positive_int, default=10)
    return parser.parse_args()


def write_tables(rows, work_dir: str) -> None:
    from mmseg_dsrl.utils.experiments import format_mean_std
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(rows, f, indent=2)
    lines = [
        '| model | input | output | GFLOPs | CPU latency (ms) | mIoU | '
        'per seed | train time | config |',
        '|---|---|---|---|---|---|---|---|---|'
    ]
    for r in rows:
        miou = format_mean_std(r['miou_mean'], r['miou_std'], r['seeds'])
        overrides = ''.join(f' `{k}={v}`'
                            for k, v in (r.get('cfg_options') or {}).items())
        lines.append(
            f'| {r["name"]} | {r["input"]} | 360x480 | {r["gflops"]:.2f} | '
            f'{r["latency_ms"]:.1f} | {miou} | '
            f'{", ".join(f"{m:.2f}" for m in r["mious"])} | '
            f'{r["train_min"]:.0f} min/run | [{osp.basename(r["config"])}]'
            f'({r["config"]}){overrides} |')
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


def main() -> None:
    args = parse_args()
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.utils.analysis import inference_complexity, time_inference
    from mmseg_dsrl.utils.experiments import mean_std, train_or_reuse
    work_dir = args.work_dir or osp.join(REPO, 'work_dirs',
                                         time.strftime('camvid-%Y%m%d-%H%M%S'))
    os.makedirs(work_dir, exist_ok=True)
    rows = []
    for key in args.models:
        name, config, shape, cfg_options = resolve(key)
        seeds = args.seeds
        mious, times, model = [], [], None
        for seed in seeds:
            metrics, model = train_or_reuse(
                osp.join(work_dir, f'{key}_seed{seed}'),
                osp.join(REPO, config), args.data_root, args.iters, seed,
                cfg_options)
            mious.append(metrics['mIoU'])
            times.append(metrics['train_s'])
        flops = inference_complexity(model, (360, 480))['flops']
        lat = time_inference(
            model, (360, 480),
            warmup=2,
            runs=args.latency_runs,
            mode='predict')
        stats = mean_std(mious)
        rows.append(
            dict(
                key=key,
                name=name,
                config=config,
                cfg_options=cfg_options,
                input=f'{shape[0]}x{shape[1]}',
                gflops=flops / 1e9,
                latency_ms=lat['median'] * 1e3,
                miou_mean=stats['mean'],
                miou_std=stats['std'],
                seeds=stats['n'],
                mious=mious,
                train_min=sum(times) / len(times) / 60))
        write_tables(rows, work_dir)


if __name__ == '__main__':
    main()
