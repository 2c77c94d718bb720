"""Export a segmentor's inference graph to ONNX and check it with ONNX Runtime.

Exports what runs in ``mode='tensor'`` -- backbone, neck and decode head;
for DSRL the SSSR upsampling (the SISR branch is training-only); for the LR
baseline the in-network downsampling; for ICNet the exit that
``model.test_cfg.exit`` selects -- of any config this project ships, a
pruned model's config written by tools/compression/prune.py, or a stock
mmseg config (a path, or ``mmseg::fcn/...``; the plugin is imported). The
batch axis is dynamic, and H/W too with --dynamic-hw.

Then runs ONNX Runtime and PyTorch on the same random inputs (batch 1 and 2
at --shape, plus another size with --dynamic-hw) and prints the largest
logit difference and the share of pixels whose labels agree. Exits 1, with
the reason, when an op cannot be exported or the labels agree on fewer
pixels than --min-agreement; an existing --out is only replaced with
--overwrite.

Examples:
    python tools/deployment/pytorch2onnx.py CONFIG [CKPT] --shape 512 1024 \\
        --out work_dirs/model.onnx
    python tools/deployment/pytorch2onnx.py ICNET_CONFIG CKPT \\
        --out sub4.onnx --shape 1024 2048 \\
        --cfg-options model.test_cfg.exit=sub4
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import DictAction

from mmseg_dsrl.analysis.cli import positive_float, positive_int



def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file (or mmseg::path)')
    parser.add_argument('checkpoint', nargs='?', help='optional checkpoint')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument(
        '--shape',
        type=positive_int,
        nargs=2,
        default=[512, 1024],
        metavar=('H', 'W'),
        help='input image size (default 512 1024)')
    parser.add_argument(
        '--opset',
        type=positive_int,
        default=18,
        help='ONNX opset (default 18, the first with anti-aliased Resize, '
        'which the LR-input models need)')
    parser.add_argument(
        '--dynamic-hw',
        action='store_true',
        help='make H and W dynamic too (checked at a second size)')
    parser.add_argument(
        '--min-agreement',
        type=positive_float,
        default=99.9,
        help='minimum %% of pixels whose labels agree (default 99.9)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace --out if it exists (default: refuse)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, xxx=yyy format')
    args = parser.parse_args(argv)
    if args.min_agreement > 100:
        parser.error(f'--min-agreement is a percentage in (0, 100], got '
                     f'{args.min_agreement}')
    if osp.exists(args.out) and not args.overwrite:
        parser.error(f'--out {args.out} exists: pass --overwrite to '
                     'replace it')
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint} is not a file')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.measurement import build_inference_model, random_inputs
    from mmseg_dsrl.analysis.configs import load_config
    from mmseg_dsrl.export.onnx import (
        OnnxExportError,
        compare_with_onnxruntime,
        export_onnx,
    )
    cfg = load_config(args.config, args.cfg_options)
    model = build_inference_model(cfg, args.checkpoint)
    h, w = args.shape
    torch.manual_seed(0)
    inputs = random_inputs(model, (h, w), batch_size=1)
    folder = osp.dirname(osp.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    # Written beside --out and renamed at the end, so a failed export or
    # check never leaves a half-written or wrong file under --out's name.
    tmp = osp.join(folder, f'.{osp.basename(args.out)}.tmp')
    try:
        export_onnx(model, inputs, tmp, args.opset, args.dynamic_hw)
    except OnnxExportError as e:
        print(f'export failed: {e}', file=sys.stderr)
        return 1
    checks = [inputs, random_inputs(model, (h, w), batch_size=2)]
    if args.dynamic_hw:
        checks.append(random_inputs(model, (h + 32, w + 64), batch_size=1))
    ok = True
    for x in checks:
        try:
            result = compare_with_onnxruntime(model, tmp, x)
        except Exception as e:  # ORT raises its own exception types
            print(f'input {tuple(x.shape)}: ONNX Runtime failed: '
                  f'{type(e).__name__}: {e}', file=sys.stderr)
            if x.shape[2:] != inputs.shape[2:]:
                print('the graph keeps sizes computed at trace time (e.g. '
                      'the LR input size, adaptive pooling): export it '
                      'without --dynamic-hw, once per input size',
                      file=sys.stderr)
            ok = False
            continue
        good = result['label_agreement'] >= args.min_agreement
        ok &= good
        print(f'input {tuple(x.shape)}: max |logits PyTorch - ONNX Runtime| '
              f'= {result["max_abs_diff"]:.2e}, labels agree on '
              f'{result["label_agreement"]:.3f} % of pixels'
              f'{"" if good else " (below --min-agreement)"}')
    if not ok:
        os.remove(tmp)
        print(f'FAILED the check; {args.out} not written', file=sys.stderr)
        return 1
    os.replace(tmp, args.out)
    print(f'wrote {args.out} (opset {args.opset}, dynamic batch'
          f'{", H, W" if args.dynamic_hw else ""})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
