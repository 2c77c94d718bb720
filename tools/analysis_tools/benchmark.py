"""Inference latency of a segmentor on random input (no dataset needed).

Warm-up runs, then N timed runs; prints median, min/max/stdev and images/s.

Example:
    python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT] --shape 512 1024 --runs 10
"""
import argparse

import torch
from mmengine.config import DictAction

import mmseg_dsrl  # noqa: F401
from mmseg_dsrl.utils.analysis import build_inference_model, time_inference
from mmseg_dsrl.utils.config_utils import load_config, parse_shape
from mmseg_dsrl.utils.cli import non_negative_int, positive_int


def parse_args() -> argparse.Namespace:
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
        default='predict',
        help='predict includes resize + argmax (default)')
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
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.runs < 1 or args.warmup < 0:
        raise ValueError(f'--runs must be >= 1 and --warmup >= 0, got '
                         f'{args.runs} and {args.warmup}')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    shape = parse_shape(args.shape)
    cfg = load_config(args.config, args.cfg_options)
    model = build_inference_model(cfg, args.checkpoint, device)
    t = time_inference(model, shape, args.warmup, args.runs, args.batch_size,
                       args.mode)
    print(f'{args.config} on {device} ({torch.get_num_threads()} threads), '
          f'input {args.batch_size}x3x{shape[0]}x{shape[1]}, '
          f'{args.runs} runs after {args.warmup} warm-up:\n'
          f'  median {t["median"] * 1e3:.1f} ms  (min {t["min"] * 1e3:.1f}, '
          f'max {t["max"] * 1e3:.1f}, stdev {t["stdev"] * 1e3:.1f})\n'
          f'  {t["images_per_s"]:.2f} images/s')


if __name__ == '__main__':
    main()
