"""Which operators an INT8 graph loses its accuracy in.

Exports CONFIG + CKPT (the inference graph, ``mode='tensor'``) at --shape,
quantizes it (ONNX Runtime, QDQ, calibrated on the first
--calibration-images images of --calibration-dir) and compares every
quantized activation with the fp32 graph's on the first --eval-images of
them: SQNR (dB) of each tensor's own quantization (``qdq``) and of the
INT8 graph against fp32 up to it (``xmodel``), lowest first, with the
operator that makes it. Keep the worst in fp32 with
``quantize_int8(..., nodes_to_exclude=[...])`` and measure what that costs
and saves with evaluate_deployed.py.

Example:
    python tools/deployment/int8_sensitivity.py CONFIG CKPT --shape 360 480 \\
        --calibration-dir ../shared/datasets/camvid/train --top 15 \\
        --out int8_sensitivity.json
"""
import argparse
import json
import os.path as osp
import sys
import tempfile

from mmseg_dsrl.analysis.cli import positive_int

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--shape', type=positive_int, nargs=2,
                        required=True, metavar=('H', 'W'))
    parser.add_argument('--calibration-dir', required=True)
    parser.add_argument('--calibration-images', type=positive_int,
                        default=100)
    parser.add_argument('--eval-images', type=positive_int, default=8,
                        help='images the activations are compared on')
    parser.add_argument('--top', type=positive_int, default=15)
    parser.add_argument('--out', default=None, help='JSON of every tensor')
    args = parser.parse_args(argv)
    if args.eval_images > args.calibration_images:
        parser.error(f'--eval-images {args.eval_images} exceeds '
                     f'--calibration-images {args.calibration_images}')
    sys.path.insert(0, REPO)
    import torch

    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.configs import load_config, use_bn_without_cuda
    from mmseg_dsrl.analysis.int8_sensitivity import activation_sqnr
    from mmseg_dsrl.analysis.measurement import build_inference_model
    from mmseg_dsrl.export.onnx import export_onnx
    from mmseg_dsrl.export.quantization import (quantize_int8,
                                                read_calibration_images)
    cfg = load_config(args.config)
    use_bn_without_cuda(cfg)
    model = build_inference_model(cfg, args.checkpoint)
    images = read_calibration_images(args.calibration_dir,
                                     args.calibration_images,
                                     tuple(args.shape),
                                     model.data_preprocessor)
    with tempfile.TemporaryDirectory(prefix='dsrl_int8_sqnr_') as tmp:
        fp32 = osp.join(tmp, 'fp32.onnx')
        export_onnx(model, torch.zeros(1, 3, *args.shape), fp32)
        int8 = quantize_int8(fp32, images, osp.join(tmp, 'int8.onnx'))
        rows = activation_sqnr(fp32, int8, images[:args.eval_images])
    print(f'| tensor | made by | op | qdq SQNR (dB) | INT8 vs fp32 SQNR (dB) |')
    print('|---|---|---|---|---|')
    for r in rows[:args.top]:
        print(f'| {r["tensor"]} | {r["node"]} | {r["op"]} | '
              f'{r["qdq_db"]:.1f} | {r["xmodel_db"]:.1f} |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           shape=args.shape,
                           calibration_dir=args.calibration_dir,
                           calibration_images=args.calibration_images,
                           eval_images=args.eval_images, tensors=rows),
                      f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
