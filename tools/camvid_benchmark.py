"""CamVid results recipe: DSRL vs. its same-input baseline (and references).

Trains each model from scratch on CamVid train with the same schedule and
evaluates on val (11 classes, void ignored); the two 180x240-input models are
trained with every seed of --seeds. Then measures inference GFLOPs and CPU
latency at 360x480 and writes results.json and results.md under --work-dir
(new folder each run unless given).

Example (about 80 minutes on a 2-core CPU):
    python tools/camvid_benchmark.py --data-root ../shared/datasets/camvid
    python tools/camvid_benchmark.py --data-root D --models dsrl lr --seeds 0
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

MODELS = {
    'full': ('BiSeNetV1-R18 w0.5, 360x480 input',
             'configs/camvid/bisenetv1_r18-d32-w0.5_1xb4-600i_camvid-360x480.py',
             (360, 480), 'single_seed'),
    'lr': ('same, 180x240 input (bilinear to 360x480)',
           'configs/camvid/lr-input_bisenetv1_r18-d32-w0.5_1xb4-600i_camvid-'
           '180x240.py', (180, 240), 'multi_seed'),
    'dsrl': ('DSRL, 180x240 input -> 360x480',
             'configs/camvid/dsrl_bisenetv1_r18-d32-w0.5_1xb4-600i_camvid-'
             '180x240.py', (180, 240), 'multi_seed'),
    'icnet': ('ICNet-R18 w0.5 (paper cascade), 360x480',
              'configs/camvid/icnet-cascade_r18-d8-w0.5_1xb4-600i_camvid-'
              '360x480.py', (360, 480), 'single_seed'),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--data-root', required=True, help='CamVid in the SegNet layout')
    parser.add_argument('--work-dir', default=None)
    parser.add_argument(
        '--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument(
        '--iters',
        type=int,
        default=None,
        help='override the configs\' 600 iterations')
    parser.add_argument('--latency-runs', type=int, default=10)
    return parser.parse_args()


def write_tables(rows, work_dir: str) -> None:
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(rows, f, indent=2)
    lines = [
        '| model | input | output | GFLOPs | CPU latency (ms) | mIoU | '
        'seeds | train time | config |',
        '|---|---|---|---|---|---|---|---|---|'
    ]
    for r in rows:
        miou = f'{r["miou_mean"]:.2f}'
        if r['seeds'] > 1:
            miou += f' ± {r["miou_std"]:.2f}'
        lines.append(
            f'| {r["name"]} | {r["input"]} | 360x480 | {r["gflops"]:.2f} | '
            f'{r["latency_ms"]:.1f} | {miou} | {r["seeds"]} | '
            f'{r["train_min"]:.0f} min/run | [{osp.basename(r["config"])}]'
            f'({r["config"]}) |')
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


def main() -> None:
    args = parse_args()
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.utils.analysis import inference_complexity, time_inference
    from mmseg_dsrl.utils.experiments import mean_std, train_and_evaluate
    work_dir = args.work_dir or osp.join(REPO, 'work_dirs',
                                         time.strftime('camvid-%Y%m%d-%H%M%S'))
    os.makedirs(work_dir, exist_ok=True)
    rows = []
    for key in args.models:
        name, config, shape, seeding = MODELS[key]
        seeds = args.seeds if seeding == 'multi_seed' else args.seeds[:1]
        mious, times, model = [], [], None
        for seed in seeds:
            run_dir = osp.join(work_dir, f'{key}_seed{seed}')
            if osp.isdir(run_dir) and os.listdir(run_dir):
                raise FileExistsError(f'{run_dir} is not empty')
            print(f'== {name}, seed {seed}', flush=True)
            out = train_and_evaluate(
                osp.join(REPO, config), run_dir, args.data_root, args.iters,
                seed)
            mious.append(out['metrics']['mIoU'])
            times.append(out['train_s'])
            model = out['model'].eval()
            with open(osp.join(run_dir, 'metrics.json'), 'w') as f:
                json.dump(
                    dict(seed=seed, train_s=out['train_s'], **out['metrics']),
                    f,
                    indent=2)
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
