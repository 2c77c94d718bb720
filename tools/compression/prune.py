"""L1-norm filter pruning with fine-tuning (ICNet compression).

For each keep ratio in --steps (fractions of the ORIGINAL filter count, e.g.
0.75 0.5): remove the filters with the smallest L1 norms from every prunable
convolution (classifiers excluded; coupled channels -- residuals, BN, CFF
sums, consumers -- follow through torch-pruning's dependency graph), write
the pruned checkpoint and a config that loads it, then fine-tune with the
config's training pipeline for --finetune-iters. The next step starts from
the fine-tuned weights. One step (--steps 0.5, the default) is one-shot
pruning; --steps 0.75 0.5 is the paper's progressive schedule. The work is
done by ``mmseg_dsrl.compression.prune_and_finetune``; this is its command
line. The defaults
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

from mmengine.config import DictAction

from mmseg_dsrl.analysis.cli import (
    keep_ratio,
    non_negative_int,
    positive_float,
    positive_int,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config of the trained model')
    parser.add_argument('checkpoint', help='trained checkpoint (read only)')
    # Defaults (None here): prune_and_finetune's, what measured best on
    # CamVid (configs/icnet/README.md).
    parser.add_argument(
        '--steps',
        type=keep_ratio,
        nargs='+',
        help='decreasing keep ratios of the original filters; one value is '
        'one-shot pruning (default 0.5), e.g. 0.75 0.5 is progressive')
    parser.add_argument(
        '--finetune-iters',
        type=non_negative_int,
        default=None,
        help='fine-tuning iterations of each step (default: 60 %% of the '
        'config\'s max_iters, split equally between the steps)')
    parser.add_argument(
        '--finetune-lr-scale', type=positive_float,
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


def print_summary(summary: list) -> None:
    base = summary[0]
    print(f'{"step":>4s} {"keep":>5s} {"GFLOPs":>8s} {"params M":>9s} '
          f'{"FLOPs x":>8s} {"params x":>9s}  checkpoint')
    for row in summary:
        print(
            f'{row["step"]:4d} {row["keep"]:5.2f} {row["flops"] / 1e9:8.2f} '
            f'{row["params"] / 1e6:9.3f} {row["flops"] / base["flops"]:8.3f} '
            f'{row["params"] / base["params"]:9.3f}  {row["checkpoint"]}')


def main(argv=None) -> list:
    args = parse_args(argv)
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.configs import load_config, use_bn_without_cuda
    from mmseg_dsrl.analysis.measurement import inference_complexity
    from mmseg_dsrl.compression import prune_and_finetune

    given = {
        k: v
        for k, v in dict(
            steps=args.steps,
            finetune_iters=args.finetune_iters,
            finetune_lr_scale=args.finetune_lr_scale).items() if v is not None
    }
    cfg = load_config(args.config, args.cfg_options)
    use_bn_without_cuda(cfg)
    shape = tuple(args.trace_shape)
    summary = prune_and_finetune(
        cfg,
        args.checkpoint,
        args.work_dir,
        trace_shape=shape,
        measure=lambda model: inference_complexity(model.eval(), shape),
        **given)
    print_summary(summary)
    return summary


if __name__ == '__main__':
    main()
