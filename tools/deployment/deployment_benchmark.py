"""Latency of several models along several inference paths, side by side.

For every --model and every --paths entry (eager fp32 PyTorch, channels-last,
bf16 autocast, torch.compile, ONNX Runtime, OpenVINO, INT8 through either
runtime, fp16 on CUDA), builds the runner
of mmseg_dsrl.analysis.inference_backends, checks its logits against eager fp32 on
the same input (label agreement, max logit difference), then times all of
them round-robin in one process (--rounds rounds, one call of each per round,
median), so machine drift hits every entry alike. Prints a Markdown table
with each path's latency as a speed-up over eager fp32 of the same model and
as a multiple of its compute bound (the model's inference FLOPs over the
machine's matrix-product rate measured in the same run: float32 for the
fp32 / bf16 paths, the runtime's INT8 product for the INT8 paths), and
writes it (and JSON) to --out.

INT8 paths quantize the exported graph with ranges calibrated on the first
--calibration-images images of --calibration-dir (sorted names, resized to
--shape; e.g. CamVid's train folder): deterministic for a given folder.

A model is ``--model NAME CONFIG [CHECKPOINT] [key=value ...]`` (the
key=value pairs are config overrides, e.g. ``model.test_cfg.exit=sub4``).
Inputs are CamVid-like images from --image (resized to --shape), else
random pixels.

Example (the README's deployment table):
    python tools/deployment/deployment_benchmark.py --shape 360 480 \\
        --model icnet-sub124 configs/camvid/icnet-...-360x480.py CKPT \\
        --model lr configs/camvid/lr-input_...-180x240.py CKPT \\
        --out work_dirs/deployment
"""
import argparse
import json
import os
import os.path as osp
import statistics
import tempfile
import time
from functools import partial

import torch
from mmengine.config import DictAction

from mmseg_dsrl.analysis.cli import positive_int
from mmseg_dsrl.analysis.inference_backends import NAMED_PATHS as PATHS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--model',
        nargs='+',
        action='append',
        required=True,
        metavar='NAME CONFIG [CKPT] [key=value]',
        help='a model to time (repeat the option for more)')
    parser.add_argument(
        '--paths',
        nargs='+',
        # Emulated CPUs run tens of times slower than this one: no timing.
        choices=[k for k, p in PATHS.items() if not p.emulate_cpu],
        default=['eager', 'channels-last', 'bf16', 'compile', 'onnxruntime'],
        help='inference paths (eager is always included, as the reference)')
    parser.add_argument(
        '--shape', type=positive_int, nargs=2, default=[360, 480],
        metavar=('H', 'W'))
    parser.add_argument('--rounds', type=positive_int, default=20)
    parser.add_argument('--warmup', type=positive_int, default=3)
    parser.add_argument('--image', default=None,
                        help='an image to run on (default: random pixels)')
    parser.add_argument(
        '--calibration-dir',
        help='images that calibrate the INT8 paths (e.g. CamVid train)')
    parser.add_argument(
        '--calibration-images', type=positive_int, default=100,
        help='how many of them (default 100)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default=None, help='folder for the results')
    args = parser.parse_args(argv)
    models = []
    for spec in args.model:
        if len(spec) < 2:
            parser.error(f'--model takes NAME CONFIG [CKPT] [key=value ...], '
                         f'got {spec}')
        name, config, *rest = spec
        # Values parsed as --cfg-options parses them (numbers, lists, ...).
        options = {
            k: DictAction._parse_iterable(v)
            for k, v in (r.split('=', 1) for r in rest if '=' in r)
        }
        ckpts = [r for r in rest if '=' not in r]
        if len(ckpts) > 1:
            parser.error(f'--model {name}: one checkpoint at most, got '
                         f'{ckpts}')
        files = ckpts if config.startswith('mmseg::') else [config, *ckpts]
        for path in files:
            if not osp.isfile(path):
                parser.error(f'--model {name}: {path} is not a file')
        models.append((name, config, ckpts[0] if ckpts else None, options))
    args.models = models
    if 'eager' not in args.paths:
        args.paths = ['eager'] + args.paths
    if args.image is not None and not osp.isfile(args.image):
        parser.error(f'--image {args.image} is not a file')
    int8 = [p for p in args.paths if PATHS[p].precision == 'int8']
    if int8 and not args.calibration_dir:
        parser.error(f'{", ".join(int8)} need --calibration-dir (images '
                     'that set the INT8 ranges)')
    if args.calibration_dir and not osp.isdir(args.calibration_dir):
        parser.error(f'--calibration-dir {args.calibration_dir} is not a '
                     'folder')
    return args


def load_inputs(model, shape, image):
    """The model's preprocessed input: ``image`` resized, or random."""
    from mmseg_dsrl.analysis.measurement import random_inputs
    if image is None:
        torch.manual_seed(0)
        return random_inputs(model, shape)
    from mmseg_dsrl.export.quantization import read_image
    return read_image(image, shape, model.data_preprocessor)[None]


def main(argv=None) -> None:
    args = parse_args(argv)
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.configs import load_config
    from mmseg_dsrl.analysis.inference_backends import (
        agreement,
        build_runner,
        int8_matmul_rate,
    )
    from mmseg_dsrl.analysis.measurement import (
        build_inference_model,
        inference_complexity,
        matmul_rate,
        round_robin_times,
    )
    from mmseg_dsrl.export.quantization import read_calibration_images
    shape = tuple(args.shape)
    # The rates the bounds divide by, measured now, on this machine.
    rates = {'fp32': matmul_rate(device=args.device)}
    for key in args.paths:
        path = PATHS[key]
        if path.precision == 'int8' and path.backend not in rates:
            rates[path.backend] = int8_matmul_rate(path.backend)
    entries = []  # (model name, path name, runner, inputs)
    checks = {}
    skipped = {}  # (model name, path name) -> why
    for name, config, ckpt, options in args.models:
        cfg = load_config(config, options)
        model = build_inference_model(cfg, ckpt, args.device)
        x = load_inputs(model, shape, args.image).to(args.device)
        flops = inference_complexity(model, shape)['flops'] * 2  # mul + add
        calibration = None
        if args.calibration_dir:
            calibration = read_calibration_images(
                args.calibration_dir, args.calibration_images, shape,
                model.data_preprocessor)
        work_dir = tempfile.mkdtemp(prefix='dsrl_deploy_')
        reference = None
        for key in args.paths:
            path = PATHS[key]
            rate = rates[path.backend if path.precision == 'int8' else 'fp32']
            start = time.perf_counter()
            try:
                runner = build_runner(model, path, x, work_dir, calibration)
                logits = runner(x)  # compiles / initialises
            except Exception as e:  # a path this graph cannot take
                if key == 'eager':  # the reference of every other row
                    raise
                why = f'{type(e).__name__}: {str(e).splitlines()[0][:200]}'
                print(f'{name:>16s} {key:>22s}: skipped: {why}', flush=True)
                skipped[name, key] = why
                continue
            build_s = time.perf_counter() - start
            if reference is None:
                reference = logits
            checks[name, key] = dict(agreement(reference, logits),
                                     build_s=build_s, flops=flops,
                                     bound_ms=flops / rate * 1e3)
            entries.append((name, key, runner, x))
            print(f'{name:>16s} {key:>22s}: ready in {build_s:.1f} s, labels '
                  f'agree with eager fp32 on '
                  f'{checks[name, key]["label_agreement"]:.3f} %', flush=True)
    times = round_robin_times(
        {(n, k): partial(runner, x)
         for n, k, runner, x in entries},
        args.rounds,
        warmup=args.warmup,
        cuda=args.device.startswith('cuda'))
    rows = []
    for (n, k), ts in times.items():
        median = statistics.median(ts)
        eager = statistics.median(times[n, 'eager'])
        rows.append(
            dict(model=n, path=k, latency_ms=median * 1e3,
                 speedup=eager / median,
                 x_bound=median * 1e3 / checks[n, k]['bound_ms'],
                 **checks[n, k]))
    rate_text = ', '.join(f'{k} {v / 1e9:.0f}' for k, v in rates.items())
    header = (f'{args.device}, {torch.get_num_threads()} threads, batch 1 at '
              f'{shape[0]}x{shape[1]}, median of {args.rounds} round-robin '
              f'rounds, network graph (mode=\'tensor\'); input: '
              f'{args.image or "random pixels"}; matrix-product rates '
              f'measured in this run (GFLOP/s): {rate_text}'
              + (f'; INT8 calibrated on the first {args.calibration_images} '
                 f'images of {args.calibration_dir}'
                 if args.calibration_dir else ''))
    from mmseg_dsrl.analysis.pages import deployment_table
    from mmseg_dsrl.analysis.runs import provenance
    skipped_rows = [
        dict(model=n, path=k, reason=why) for (n, k), why in skipped.items()
    ]
    lines = [header, ''] + deployment_table(
        dict(rows=rows, skipped=skipped_rows))
    print('\n'.join(lines))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(osp.join(args.out, 'deployment.md'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        with open(osp.join(args.out, 'deployment.json'), 'w') as f:
            json.dump(
                dict(header=header, rows=rows, skipped=skipped_rows,
                     provenance=provenance()),
                f,
                indent=2)


if __name__ == '__main__':
    main()
