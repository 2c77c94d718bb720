"""The README's main job: DSRL vs. its same-input baseline on the demo data.

Writes the synthetic demo dataset (if absent), trains the low-resolution
baseline, DSRL as shipped (SSSR + SISR + FA into the SR side) and DSRL in
the paper's setting (FA into both sides) with the same schedule, evaluates
them and prints their mIoU (and per-class IoU of the thin classes) side by
side with the inference GFLOPs. Everything goes to a new folder under
work_dirs/.

Example:
    python tools/run_demo.py            # ~9 min on a 2-core CPU
    python tools/run_demo.py --iters 100 --seed 1
"""
import argparse
import json
import os
import os.path as osp
import time
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


def main() -> None:
    args = parse_args()
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.datasets import write_demo_dataset
    from mmseg_dsrl.analysis.measurement import inference_complexity
    from mmseg_dsrl.analysis.runs import train_and_evaluate
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
    rows = []
    for name, config in CONFIGS.items():
        print(f'== training {name}: {config}')
        out = train_and_evaluate(
            osp.join(REPO, config),
            osp.join(work_dir,
                     osp.splitext(osp.basename(config))[0]), args.data_root,
            args.iters, args.seed)
        model = out['model']
        flops = inference_complexity(model.eval(), (256, 512))['flops']
        ious = per_class_iou(model, args.data_root)
        rows.append(
            dict(
                model=name,
                config=config,
                mIoU=float(out['metrics']['mIoU']),
                gflops=flops / 1e9,
                train_s=out['train_s'],
                s_per_iter=out['s_per_iter'],
                **{f'IoU.{c}': float(ious[c])
                   for c in THIN}))
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
