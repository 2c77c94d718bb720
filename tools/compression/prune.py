"""L1-norm filter pruning with fine-tuning (ICNet compression).

For each keep ratio in --steps (fractions of the ORIGINAL filter count, e.g.
0.75 0.5): remove the filters with the smallest L1 norms from every prunable
convolution (classifiers excluded; coupled channels -- residuals, BN, CFF
sums, consumers -- follow through torch-pruning's dependency graph), write
the pruned checkpoint and a config that loads it, then fine-tune with the
config's training pipeline for --finetune-iters. The next step starts from
the fine-tuned weights. One step (--steps 0.5, the default) is one-shot
pruning; --steps 0.75 0.5 is the paper's progressive schedule. The defaults
(one shot, 60 % of the training iterations, the full training LR) measured
best on CamVid; the numbers are on configs/icnet/README.md.

Outputs under --work-dir (must be new or empty; the input checkpoint is
only read): step{k}/pruned.pth, step{k}/config.py, step{k}/iter_N.pth, and
summary.json. mmseg's tools/test.py, tools/analysis_tools/benchmark.py and
tools/analysis_tools/get_flops.py take step{k}/config.py like any config.

Examples:
    python tools/compression/prune.py CONFIG CKPT --work-dir work_dirs/pruned
    python tools/compression/prune.py CONFIG CKPT --steps 0.75 0.5 \
        --finetune-iters 300 --finetune-lr-scale 0.1 --work-dir work_dirs/p2
"""
import argparse
import copy
import json
import os
import os.path as osp

import torch
from mmengine.config import DictAction
from mmseg_dsrl.analysis.cli import (
    keep_ratio,
    non_negative_int,
    positive_float,
    positive_int,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config of the trained model')
    parser.add_argument('checkpoint', help='trained checkpoint (read only)')
    # Defaults: what measured best on CamVid (ICNet-R18 w0.5, 3 seeds,
    # configs/icnet/README.md): one shot, fine-tuning for 60 % of the
    # training schedule at the config's full learning rate.
    parser.add_argument(
        '--steps',
        type=keep_ratio,
        nargs='+',
        default=[0.5],
        help='decreasing keep ratios of the original filters; one value is '
        'one-shot pruning (default 0.5), e.g. 0.75 0.5 is progressive')
    parser.add_argument(
        '--finetune-iters',
        type=non_negative_int,
        default=None,
        help='fine-tuning iterations of each step (default: 60 %% of the '
        'config\'s max_iters, split equally between the steps)')
    parser.add_argument(
        '--finetune-lr-scale', type=positive_float, default=1.0,
        help='fine-tune at this fraction of the config\'s learning rate '
        '(default 1.0)')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument(
        '--trace-shape',
        type=positive_int,
        nargs=2,
        default=[256, 512],
        help='input H W for tracing')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config')
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Every input error is reported before any work is done."""
    for r in args.steps:
        if not 0 < r <= 1:
            raise ValueError(f'keep ratios must be in (0, 1], got {r}')
    if any(b >= a for a, b in zip(args.steps, args.steps[1:])):
        raise ValueError(f'--steps must be strictly decreasing (keep ratios '
                         f'of the original model), got {args.steps}')
    if args.finetune_lr_scale <= 0:
        raise ValueError(f'--finetune-lr-scale must be > 0, got '
                         f'{args.finetune_lr_scale}')
    if args.finetune_iters is not None and args.finetune_iters < 0:
        raise ValueError(f'--finetune-iters must be >= 0, got '
                         f'{args.finetune_iters}')
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} not found')
    if osp.isdir(args.work_dir) and os.listdir(args.work_dir):
        raise FileExistsError(f'--work-dir {args.work_dir} is not empty; '
                              'choose a new folder')
    ckpt = osp.realpath(args.checkpoint)
    if osp.commonpath([ckpt, osp.realpath(args.work_dir)
                       ]) == osp.realpath(args.work_dir):
        raise ValueError('--work-dir must not contain the input checkpoint')


def default_finetune_iters(cfg, num_steps: int) -> int:
    """60 % of the config's training iterations, split between the steps
    (the budget measured on CamVid: 600 after 1000 training iterations)."""
    max_iters = cfg.get('train_cfg', {}).get('max_iters')
    if not max_iters:
        raise ValueError('the config has no train_cfg.max_iters to derive '
                         '--finetune-iters from; pass --finetune-iters')
    return max(1, round(0.6 * max_iters / num_steps))


def load_strict(model: torch.nn.Module, path: str) -> None:
    """Load a checkpoint that must match the architecture exactly."""
    from mmengine.runner import CheckpointLoader
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(
        k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise ValueError(
            f'{path} does not belong to this config: '
            f'{len(missing)} missing keys (e.g. {missing[:3]}), '
            f'{len(unexpected)} unexpected (e.g. {unexpected[:3]}), '
            f'{len(wrong)} with other shapes (e.g. {wrong[:3]})')
    model.load_state_dict(state)


def count(model: torch.nn.Module, shape) -> dict:
    from mmseg_dsrl.analysis.measurement import inference_complexity
    model.eval()
    return inference_complexity(model, shape)


def main(argv=None) -> None:
    args = parse_args(argv)
    check_args(args)
    from mmengine.runner import Runner, save_checkpoint

    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.compression import prune_filters_l1
    from mmseg_dsrl.analysis.measurement import build_inference_model
    from mmseg_dsrl.analysis.configs import load_config, use_bn_without_cuda
    from mmseg_dsrl.analysis.runs import shorten_schedule
    cfg = load_config(args.config, args.cfg_options)
    use_bn_without_cuda(cfg)
    if args.finetune_iters is None:
        args.finetune_iters = default_finetune_iters(cfg, len(args.steps))
    original_model_cfg = copy.deepcopy(cfg.model)
    model = build_inference_model(cfg)
    load_strict(model, args.checkpoint)
    shape = tuple(args.trace_shape)
    summary = [
        dict(
            step=0,
            keep=1.0,
            checkpoint=args.checkpoint,
            **count(model, shape))
    ]
    os.makedirs(args.work_dir, exist_ok=True)
    previous_keep = 1.0
    for k, keep in enumerate(args.steps, 1):
        step_dir = osp.abspath(osp.join(args.work_dir, f'step{k}'))
        os.makedirs(step_dir)
        ratio = 1 - keep / previous_keep
        prune_filters_l1(model, ratio, (1, 3) + shape)
        pruned_path = osp.join(step_dir, 'pruned.pth')
        save_checkpoint(
            dict(
                state_dict=model.state_dict(),
                meta=dict(pruned_keep_ratio=keep)), pruned_path)
        step_cfg = copy.deepcopy(cfg)
        # data_preprocessor is given explicitly: mmengine's Runner would
        # otherwise add the config's top-level one (without the crop size).
        step_cfg.model = dict(
            type='PrunedSegmentor',
            model=original_model_cfg,
            shapes_from=pruned_path,
            data_preprocessor=original_model_cfg.get('data_preprocessor'))
        step_cfg.load_from = pruned_path
        step_cfg.resume = False
        step_cfg.work_dir = step_dir
        config_path = osp.join(step_dir, 'config.py')
        step_cfg.dump(config_path)
        stats = count(model, shape)
        final = pruned_path
        if args.finetune_iters > 0:
            shorten_schedule(step_cfg, args.finetune_iters)
            step_cfg.optim_wrapper.optimizer.lr *= args.finetune_lr_scale
            runner = Runner.from_cfg(step_cfg)
            runner.train()
            stats['mIoU'] = float(runner.val()['mIoU'])
            final = osp.join(step_dir, f'iter_{args.finetune_iters}.pth')
            model = build_inference_model(step_cfg, final)
        summary.append(
            dict(
                step=k,
                keep=keep,
                checkpoint=final,
                config=config_path,
                **stats))
        previous_keep = keep
    base = summary[0]
    print(f'{"step":>4s} {"keep":>5s} {"GFLOPs":>8s} {"params M":>9s} '
          f'{"FLOPs x":>8s} {"params x":>9s}  checkpoint')
    for row in summary:
        print(
            f'{row["step"]:4d} {row["keep"]:5.2f} {row["flops"] / 1e9:8.2f} '
            f'{row["params"] / 1e6:9.3f} {row["flops"] / base["flops"]:8.3f} '
            f'{row["params"] / base["params"]:9.3f}  {row["checkpoint"]}')
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)


if __name__ == '__main__':
    main()
