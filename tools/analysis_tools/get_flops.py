"""FLOPs and parameters of a segmentor's inference graph.

Counts what runs in ``mode='tensor'`` (backbone, neck, decode head; for DSRL
also the SSSR deconvolutions) for one image of ``--shape H W``: auxiliary
heads, DSRL's SISR head and FA transform do not run at inference and are not
counted. FLOPs are multiply-adds, as mmengine and mmseg report them. Works
with mmengine 0.10.x (mmseg 1.2.2's packaged copy does not).

Example:
    python tools/analysis_tools/get_flops.py CONFIG --shape 1024 2048
"""
import argparse

from mmengine.config import DictAction

import mmseg_dsrl  # noqa: F401
from mmseg_dsrl.analysis.measurement import (
    build_inference_model,
    inference_complexity,
)
from mmseg_dsrl.analysis.configs import load_config, parse_shape
from mmseg_dsrl.analysis.cli import positive_int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape',
        type=positive_int,
        nargs='+',
        default=[1024, 2048],
        help='input image size H W (default 1024 2048)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, xxx=yyy format')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    shape = parse_shape(args.shape)
    cfg = load_config(args.config, args.cfg_options)
    model = build_inference_model(cfg)
    result = inference_complexity(model, shape)
    line = '=' * 40
    print(f'{line}\nConfig: {args.config}\nInput shape: {shape}\n'
          f'Flops: {result["flops"] / 1e9:.2f} GFLOPs\n'
          f'Params (inference graph): {result["params"] / 1e6:.3f} M\n'
          f'Params (all, incl. training-only): '
          f'{result["all_params"] / 1e6:.3f} M\n{line}')


if __name__ == '__main__':
    main()
