"""The README's main job: DSRL vs. its same-input baseline on the demo data.

Writes the synthetic demo dataset (if absent), trains the low-resolution
baseline, DSRL as shipped (SSSR + SISR + FA into the SR side) and DSRL in
the paper's setting (FA into both sides) with the same schedule, evaluates
them and prints one line per model and their mIoU (and per-class IoU of
the thin classes) side by side with the inference GFLOPs. Everything goes
to a new folder under work_dirs/: each model's checkpoints and mmengine
logs, its console output (``console.log``) and ``demo_results.json`` (the
table's rows with seed, iterations and where it ran: the record that
``results/demo/`` keeps and the pages' demo tables are generated from).

Example:
    python tools/run_demo.py            # ~11 min on a 2-core CPU
    python tools/run_demo.py --iters 100 --seed 1
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import sys
import time
import warnings

from mmseg_dsrl.analysis.cli import non_negative_int, positive_int

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

CONFIGS = {
    'LR baseline (128x256 in, bilinear)':
    'configs/dsrl/lr-input_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py',
    'DSRL (128x256 in, 256x512 out)':
    'configs/dsrl/dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py',
    'DSRL, paper setting (FA into both)':
    'configs/dsrl/dsrl-paper_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-'
    '128x256.py',
}
THIN = ('lane_marking', 'pole', 'sign')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--data-root', default=osp.join(REPO, 'data', 'dsrl_demo'))
    parser.add_argument(
        '--work-dir',
        default=None,
        help='default: work_dirs/demo-<timestamp> (new)')
    parser.add_argument(
        '--iters',
        type=positive_int,
        default=None,
        help='training iterations (default: the configs\')')
    parser.add_argument('--seed', type=non_negative_int, default=0)
    return parser.parse_args()


def per_class_iou(model, data_root: str) -> dict:
    """Per-class IoU on the val split (mmseg's IoUMetric, class breakdown)."""
    import glob

    import numpy as np
    from mmcv import imread
    from mmseg.apis import inference_model

    from mmseg_dsrl.datasets.demo_scenes import CLASSES
    n = len(CLASSES)
    inter, union = np.zeros(n), np.zeros(n)
    model.eval()
    for img in sorted(glob.glob(osp.join(data_root, 'img_dir/val/*.png'))):
        label = imread(img.replace('img_dir', 'ann_dir'), flag='unchanged')
        pred = inference_model(model, img).pred_sem_seg.data[0].numpy()
        for c in range(n):
            p, g = pred == c, label == c
            inter[c] += (p & g).sum()
            union[c] += (p | g).sum()
    return {CLASSES[c]: 100 * inter[c] / max(union[c], 1) for c in range(n)}


@contextlib.contextmanager
def console_to(path: str):
    """Send this process's stdout and stderr (Python's and the C
    libraries') to ``path`` for the duration of the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, 'a') as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def minutes(seconds: float) -> str:
    return f'{int(seconds // 60)}m{int(seconds % 60):02d}s'


def main() -> None:
    args = parse_args()
    # mmengine imports pkg_resources, whose deprecation is not the user's
    # concern (setup_env.sh pins a setuptools that still has it).
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.datasets import write_demo_dataset
    from mmseg_dsrl.analysis.measurement import inference_complexity
    from mmseg_dsrl.analysis.runs import provenance, train_and_evaluate
    if not osp.isdir(osp.join(args.data_root, 'img_dir')):
        print(f'writing the demo dataset to {args.data_root}')
        write_demo_dataset(args.data_root)
    else:
        print(f'using the demo dataset in {args.data_root}')
    work_dir = args.work_dir or osp.join(REPO, 'work_dirs',
                                         time.strftime('demo-%Y%m%d-%H%M%S'))
    if osp.exists(work_dir) and os.listdir(work_dir):
        raise FileExistsError(f'{work_dir} exists and is not empty; choose '
                              'another --work-dir')
    os.makedirs(work_dir, exist_ok=True)
    print(f'training {len(CONFIGS)} models, logs in {work_dir}')
    where = provenance()
    rows = []
    for i, (name, config) in enumerate(CONFIGS.items(), 1):
        run_dir = osp.join(work_dir, osp.splitext(osp.basename(config))[0])
        os.makedirs(run_dir, exist_ok=True)
        print(f'[{i}/{len(CONFIGS)}] {name} ...', end=' ', flush=True)
        start = time.perf_counter()
        with console_to(osp.join(run_dir, 'console.log')):
            out = train_and_evaluate(
                osp.join(REPO, config), run_dir, args.data_root, args.iters,
                args.seed)
            model = out['model']
            flops = inference_complexity(model.eval(), (256, 512))['flops']
            ious = per_class_iou(model, args.data_root)
        miou = float(out['metrics']['mIoU'])
        print(f'{miou:.2f} mIoU ({minutes(time.perf_counter() - start)})')
        rows.append(
            dict(
                model=name,
                config=config,
                mIoU=miou,
                gflops=flops / 1e9,
                train_s=out['train_s'],
                s_per_iter=out['s_per_iter'],
                **{f'IoU.{c}': float(ious[c])
                   for c in THIN},
                seed=args.seed,
                iters=args.iters or int(model.cfg.train_cfg.max_iters),
                provenance=where))
    header = (f'{"model":38s} {"mIoU":>6s} ' + ' '.join(f'{c:>12s}'
                                                        for c in THIN) +
              f' {"GFLOPs@256x512":>15s} {"s/iter":>7s} {"train s":>8s}')
    print('\n' + header + '\n' + '-' * len(header))
    for r in rows:
        print(f'{r["model"]:38s} {r["mIoU"]:6.2f} ' +
              ' '.join(f'{r["IoU." + c]:12.2f}' for c in THIN) +
              f' {r["gflops"]:15.3f} {r["s_per_iter"]:7.3f} '
              f'{r["train_s"]:8.0f}')
    with open(osp.join(work_dir, 'demo_results.json'), 'w') as f:
        json.dump(rows, f, indent=2)
    print(f'\nresults: {osp.join(work_dir, "demo_results.json")}')


if __name__ == '__main__':
    main()
