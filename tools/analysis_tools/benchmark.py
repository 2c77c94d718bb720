"""Inference latency of a segmentor on random input (no dataset needed).

Warm-up runs, then N timed runs; prints median, min/max/stdev and images/s.
Besides eager fp32 PyTorch it times the other ways of running the graph
(``--backend onnxruntime``, ``--precision bf16|fp16``, ``--channels-last``,
``--compile``; the network graph, ``mode='tensor'``) and checks each against
eager fp32 on the same input: label agreement and max logit difference are
printed with the time. tools/deployment/deployment_benchmark.py times
several paths and models side by side.

Examples:
    python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT] \
        --shape 512 1024 --runs 10
    python tools/analysis_tools/benchmark.py CONFIG CKPT --shape 360 480 \
        --backend onnxruntime
"""
import argparse

import torch
from mmengine.config import DictAction

import mmseg_dsrl  # noqa: F401
from mmseg_dsrl.analysis.measurement import (
    build_inference_model,
    random_inputs,
    time_inference,
    time_runner,
)
from mmseg_dsrl.analysis.configs import load_config, parse_shape
from mmseg_dsrl.analysis.cli import non_negative_int, positive_int
from mmseg_dsrl.analysis.inference_backends import (
    InferencePath,
    agreement,
    build_runner,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='optional checkpoint')
    parser.add_argument(
        '--shape',
        type=positive_int,
        nargs='+',
        default=[1024, 2048],
        help='input image size H W (default 1024 2048)')
    parser.add_argument('--batch-size', type=positive_int, default=1)
    parser.add_argument('--warmup', type=non_negative_int, default=2)
    parser.add_argument('--runs', type=positive_int, default=10)
    parser.add_argument(
        '--device',
        default=None,
        help='cpu or cuda (default: cuda when available)')
    parser.add_argument(
        '--mode',
        choices=['tensor', 'predict'],
        default=None,
        help='predict includes resize + argmax (default for eager fp32 '
        'PyTorch); tensor is the network graph (the other paths)')
    parser.add_argument(
        '--backend', choices=['pytorch', 'onnxruntime'], default='pytorch')
    parser.add_argument(
        '--precision', choices=['fp32', 'fp16', 'bf16'], default='fp32',
        help='bf16 / fp16 autocast (fp16 on CUDA only)')
    parser.add_argument(
        '--channels-last', action='store_true',
        help='NHWC memory format for weights and input')
    parser.add_argument(
        '--compile', action='store_true', help='torch.compile the graph')
    parser.add_argument(
        '--threads',
        type=positive_int,
        default=None,
        help='torch CPU threads (default: torch default)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config')
    args = parser.parse_args(argv)
    path = InferencePath(args.backend, args.precision, args.channels_last,
                         args.compile)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        path.check(device)
    except ValueError as e:
        parser.error(str(e))
    if path != InferencePath() and args.mode == 'predict':
        parser.error(f'{path.name} times the network graph: use --mode '
                     'tensor (or leave --mode out)')
    args.path, args.device = path, device
    args.mode = args.mode or ('predict' if path == InferencePath() else
                              'tensor')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    shape = parse_shape(args.shape)
    cfg = load_config(args.config, args.cfg_options)
    model = build_inference_model(cfg, args.checkpoint, device)
    what = (f'{args.config} on {device} ({torch.get_num_threads()} threads), '
            f'input {args.batch_size}x3x{shape[0]}x{shape[1]}, {args.runs} '
            f'runs after {args.warmup} warm-up')
    if args.path == InferencePath():
        t = time_inference(model, shape, args.warmup, args.runs,
                           args.batch_size, args.mode)
        check = ''
    else:
        x = random_inputs(model, shape, args.batch_size).to(device)
        runner = build_runner(model, args.path, x)
        reference = build_runner(model, InferencePath(), x)(x)
        t = time_runner(runner, x, args.warmup, args.runs)
        a = agreement(reference, runner(x))
        what += f', {args.path.name}'
        check = (f'\n  vs. eager fp32: labels agree on '
                 f'{a["label_agreement"]:.3f} % of pixels, max |logit '
                 f'difference| {a["max_abs_diff"]:.2e}')
    print(f'{what} ({args.mode} mode):\n'
          f'  median {t["median"] * 1e3:.1f} ms  (min {t["min"] * 1e3:.1f}, '
          f'max {t["max"] * 1e3:.1f}, stdev {t["stdev"] * 1e3:.1f})\n'
          f'  {t["images_per_s"]:.2f} images/s{check}')


if __name__ == '__main__':
    main()
