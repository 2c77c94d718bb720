"""ICNet compression on the demo data: progressive vs. one-shot L1 pruning.

1. trains the paper's ICNet-R50 on the demo dataset (or takes --checkpoint),
2. prunes it to keep ratio 0.5 progressively (0.75, fine-tune, 0.5,
   fine-tune) and in one shot (0.5, fine-tune), with the same total number
   of fine-tuning iterations,
3. prints parameters and GFLOPs (tools/analysis_tools/get_flops.py's count), CPU latency
   (round-robin in one process, tools/analysis_tools/benchmark.py's timing) and demo mIoU
   of the three models side by side.

Example (about 20 minutes on a 2-core CPU):
    python tools/compression/compare_pruning_schedules.py --work-dir work_dirs/prune_bench
"""
import argparse
import json
import os
import os.path as osp
import statistics
import time
from functools import partial

from mmseg_dsrl.analysis.cli import (
    non_negative_int,
    positive_float,
    positive_int,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

CONFIG = osp.join(REPO, 'configs', 'icnet',
                  'icnet-cascade_r18-d8_1xb4-400i_dsrl-demo-256x512.py')
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root',
                        default=osp.join(REPO, 'data', 'dsrl_demo'))
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--checkpoint', default=None,
                        help='trained ICNet-R50 demo checkpoint (skip 1.)')
    parser.add_argument('--train-iters', type=positive_int, default=400)
    parser.add_argument('--finetune-iters', type=non_negative_int, default=200,
                        help='total fine-tuning iterations per schedule')
    parser.add_argument(
        '--finetune-lr-scale', type=positive_float, default=1.0,
        help="fraction of the config's LR for fine-tuning (prune.py's "
        'default 1.0)')
    parser.add_argument(
        '--shape', type=positive_int, nargs=2, default=[256, 512])
    parser.add_argument('--runs', type=positive_int, default=10)
    args = parser.parse_args()
    import torch

    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.datasets import write_demo_dataset
    from mmseg_dsrl.analysis.measurement import (
        build_inference_model,
        inference_complexity,
        random_inputs,
        round_robin_times,
    )
    from mmseg_dsrl.analysis.configs import load_config, use_bn_without_cuda
    from mmseg_dsrl.analysis.runs import set_data_root, train_and_evaluate
    from mmseg_dsrl.compression import prune_and_finetune
    work = args.work_dir or osp.join(
        REPO, 'work_dirs', time.strftime('prune-bench-%Y%m%d-%H%M%S'))
    os.makedirs(work, exist_ok=True)
    if not osp.isdir(osp.join(args.data_root, 'img_dir')):
        write_demo_dataset(args.data_root)
    cfg_options = {'model.backbone.backbone_cfg.depth': 50}
    rows = {}
    ckpt = args.checkpoint
    if ckpt is None:
        out = train_and_evaluate(CONFIG, osp.join(work, 'unpruned'),
                                 args.data_root, args.train_iters, 0,
                                 cfg_options=cfg_options)
        ckpt = out['checkpoint']
        rows['unpruned'] = dict(mIoU=out['metrics']['mIoU'])
    schedules = {
        'progressive 0.75 -> 0.5': [0.75, 0.5],
        'one-shot 0.5': [0.5],
    }
    prune_cfg = load_config(CONFIG, cfg_options)
    set_data_root(prune_cfg, args.data_root)
    use_bn_without_cuda(prune_cfg)
    shape = tuple(args.shape)
    summaries = {}
    for name, steps in schedules.items():
        iters = args.finetune_iters // len(steps)
        folder = osp.join(work, name.split()[0])
        summaries[name] = prune_and_finetune(
            prune_cfg, ckpt, folder, steps=steps, finetune_iters=iters,
            finetune_lr_scale=args.finetune_lr_scale, trace_shape=shape,
            measure=partial(inference_complexity, shape=shape))
        rows[name] = dict(mIoU=summaries[name][-1]['mIoU'])
    # Models side by side: complexity and round-robin latency.
    base_cfg = load_config(CONFIG, cfg_options)
    models = {'unpruned': build_inference_model(base_cfg, ckpt)}
    for name, summary in summaries.items():
        last = summary[-1]
        models[name] = build_inference_model(
            load_config(last['config']), last['checkpoint'])
    if 'unpruned' not in rows:
        rows['unpruned'] = dict(mIoU=float('nan'))
    x = random_inputs(models['unpruned'], shape)
    times = round_robin_times(
        {k: partial(m, x, mode='predict')
         for k, m in models.items()}, args.runs)
    base = inference_complexity(models['unpruned'], shape)
    print(f'\nICNet-R50 on the demo data, input {shape}, CPU '
          f'{torch.get_num_threads()} threads, {args.runs} round-robin runs')
    print(f'{"model":26s} {"params M":>9s} {"x":>6s} {"GFLOPs":>8s} '
          f'{"x":>6s} {"latency ms":>11s} {"mIoU":>6s}')
    for k, m in models.items():
        c = inference_complexity(m, shape)
        lat = statistics.median(times[k]) * 1e3
        rows[k].update(params=c['params'], flops=c['flops'], latency_ms=lat,
                       params_ratio=c['params'] / base['params'],
                       flops_ratio=c['flops'] / base['flops'])
        print(f'{k:26s} {c["params"] / 1e6:9.2f} '
              f'{c["params"] / base["params"]:6.3f} {c["flops"] / 1e9:8.2f} '
              f'{c["flops"] / base["flops"]:6.3f} {lat:11.1f} '
              f'{rows[k]["mIoU"]:6.2f}')
    with open(osp.join(work, 'pruning_schedules.json'), 'w') as f:
        json.dump(rows, f, indent=2)


if __name__ == '__main__':
    main()
