"""mIoU of a model along deployment paths, on its config's val set.

For every --paths entry (eager fp32 PyTorch, ONNX Runtime, OpenVINO, their
INT8 versions, ...) builds the runner of
mmseg_dsrl.analysis.inference_backends and evaluates it with the config's
own val dataloader, post-processing and evaluator (mmseg's IoUMetric), so
what a path costs in mIoU is measured on your checkpoint and data, not
assumed. INT8 paths are calibrated on the first --calibration-images
images of --calibration-dir (sorted names; use training images, never the
evaluated ones).

Example:
    python tools/deployment/evaluate_deployed.py CONFIG CKPT \\
        --data-root ../shared/datasets/camvid \\
        --paths eager onnxruntime onnxruntime-int8 openvino-int8 \\
        --calibration-dir ../shared/datasets/camvid/train
"""
import argparse
import json
import os.path as osp
import sys
import tempfile

from mmengine.config import DictAction

from mmseg_dsrl.analysis.cli import hw_size, positive_int
from mmseg_dsrl.analysis.inference_backends import NAMED_PATHS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument(
        '--paths',
        nargs='+',
        choices=list(NAMED_PATHS),
        default=['eager', 'onnxruntime', 'onnxruntime-int8'],
        help='deployment paths to evaluate (eager is always included)')
    parser.add_argument('--data-root', help='the dataset (config default: '
                        'as in the config)')
    parser.add_argument('--calibration-dir',
                        help='images that calibrate the INT8 paths')
    parser.add_argument('--calibration-images', type=positive_int,
                        default=100)
    parser.add_argument(
        '--shape', type=hw_size, default=None,
        help='HxW the graph is exported at (default: the val images\' '
        'size, read from the first one)')
    parser.add_argument('--max-images', type=positive_int, default=None)
    parser.add_argument('--out', help='write the results (JSON) here')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config')
    args = parser.parse_args(argv)
    if 'eager' not in args.paths:
        args.paths = ['eager'] + args.paths
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            parser.error(f'{path} is not a file')
    int8 = [p for p in args.paths if NAMED_PATHS[p].precision == 'int8']
    if int8 and not args.calibration_dir:
        parser.error(f'{", ".join(int8)} need --calibration-dir (images '
                     'that set the INT8 ranges)')
    if args.out and osp.exists(args.out):
        parser.error(f'--out {args.out} exists; choose another file')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.configs import load_config, use_bn_without_cuda
    from mmseg_dsrl.analysis.deployed_evaluation import (
        evaluate_runner,
        first_val_inputs,
    )
    from mmseg_dsrl.analysis.inference_backends import build_runner
    from mmseg_dsrl.analysis.measurement import build_inference_model
    from mmseg_dsrl.analysis.runs import provenance, set_data_root
    from mmseg_dsrl.export.quantization import read_calibration_images
    cfg = load_config(args.config, args.cfg_options)
    use_bn_without_cuda(cfg)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    model = build_inference_model(cfg, args.checkpoint)
    example = first_val_inputs(cfg, model)
    if args.shape is not None:
        example = example.new_zeros((1, 3, *args.shape))
    calibration = None
    if args.calibration_dir:
        calibration = read_calibration_images(
            args.calibration_dir, args.calibration_images,
            tuple(example.shape[2:]), model.data_preprocessor)
    work_dir = tempfile.mkdtemp(prefix='dsrl_evaluate_')
    results = {}
    skipped = {}
    for key in args.paths:
        try:
            run = build_runner(model, NAMED_PATHS[key], example, work_dir,
                               calibration)
        except ValueError as e:  # a path this graph cannot take
            print(f'{key:>18s}: skipped: {e}', flush=True)
            skipped[key] = str(e)
            continue
        metrics = evaluate_runner(cfg, model, run, args.max_images)
        results[key] = {k: float(v) for k, v in metrics.items()}
        print(f'{key:>18s}: mIoU {results[key]["mIoU"]:.2f}', flush=True)
    eager = results['eager']['mIoU']
    print(f'\n{args.checkpoint}, {args.max_images or "all"} val images, '
          f'graph input {tuple(example.shape[2:])}\n')
    print('| path | mIoU | minus eager fp32 |\n|---|---|---|')
    for key, metrics in results.items():
        print(f'| {key} | {metrics["mIoU"]:.2f} | '
              f'{metrics["mIoU"] - eager:+.2f} |')
    for key, why in skipped.items():
        print(f'| {key} | not run: {why} | |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(
                dict(config=args.config, checkpoint=args.checkpoint,
                     calibration_dir=args.calibration_dir,
                     calibration_images=args.calibration_images,
                     max_images=args.max_images, results=results,
                     skipped=skipped, provenance=provenance()),
                f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
