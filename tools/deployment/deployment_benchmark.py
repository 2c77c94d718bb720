"""Latency of several models along several inference paths, side by side.

For every --model and every --paths entry (eager fp32 PyTorch, channels-last,
bf16 autocast, torch.compile, ONNX Runtime, fp16 on CUDA), builds the runner
of mmseg_dsrl.analysis.inference_backends, checks its logits against eager fp32 on
the same input (label agreement, max logit difference), then times all of
them round-robin in one process (--rounds rounds, one call of each per round,
median), so machine drift hits every entry alike. Prints a Markdown table
with each path's latency as a speed-up over eager fp32 of the same model and
writes it (and JSON) to --out.

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
import time
from functools import partial

import torch

from mmseg_dsrl.analysis.cli import positive_int


PATHS = {
    'eager': dict(),
    'channels-last': dict(channels_last=True),
    'bf16': dict(precision='bf16'),
    'bf16-channels-last': dict(precision='bf16', channels_last=True),
    'compile': dict(compile=True),
    'compile-channels-last': dict(compile=True, channels_last=True),
    'onnxruntime': dict(backend='onnxruntime'),
    'fp16': dict(precision='fp16'),
}


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
        choices=list(PATHS),
        default=['eager', 'channels-last', 'bf16', 'compile', 'onnxruntime'],
        help='inference paths (eager is always included, as the reference)')
    parser.add_argument(
        '--shape', type=positive_int, nargs=2, default=[360, 480],
        metavar=('H', 'W'))
    parser.add_argument('--rounds', type=positive_int, default=20)
    parser.add_argument('--warmup', type=positive_int, default=3)
    parser.add_argument('--image', default=None,
                        help='an image to run on (default: random pixels)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default=None, help='folder for the results')
    args = parser.parse_args(argv)
    models = []
    for spec in args.model:
        if len(spec) < 2:
            parser.error(f'--model takes NAME CONFIG [CKPT] [key=value ...], '
                         f'got {spec}')
        name, config, *rest = spec
        options = dict(r.split('=', 1) for r in rest if '=' in r)
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
    return args


def load_inputs(model, shape, image):
    """The model's preprocessed input: ``image`` resized, or random."""
    from mmseg_dsrl.analysis.measurement import random_inputs
    if image is None:
        torch.manual_seed(0)
        return random_inputs(model, shape)
    import cv2
    bgr = cv2.resize(cv2.imread(image), (shape[1], shape[0]))
    pixels = torch.from_numpy(bgr).permute(2, 0, 1).contiguous()
    return model.data_preprocessor(
        dict(inputs=[pixels], data_samples=None), False)['inputs']


def main(argv=None) -> None:
    args = parse_args(argv)
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.measurement import (
        build_inference_model,
        round_robin_times,
    )
    from mmseg_dsrl.analysis.configs import load_config
    from mmseg_dsrl.analysis.inference_backends import (
        InferencePath,
        agreement,
        build_runner,
    )
    shape = tuple(args.shape)
    entries = []  # (model name, path name, runner, inputs)
    checks = {}
    for name, config, ckpt, options in args.models:
        cfg = load_config(config, options)
        model = build_inference_model(cfg, ckpt, args.device)
        x = load_inputs(model, shape, args.image).to(args.device)
        reference = None
        for key in args.paths:
            path = InferencePath(**PATHS[key])
            start = time.perf_counter()
            runner = build_runner(model, path, x)
            logits = runner(x)  # compiles / initialises
            build_s = time.perf_counter() - start
            if reference is None:
                reference = logits
            checks[name, key] = dict(agreement(reference, logits),
                                     build_s=build_s)
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
                 speedup=eager / median, **checks[n, k]))
    header = (f'{args.device}, {torch.get_num_threads()} threads, batch 1 at '
              f'{shape[0]}x{shape[1]}, median of {args.rounds} round-robin '
              f'rounds, network graph (mode=\'tensor\'); input: '
              f'{args.image or "random pixels"}')
    lines = [
        header, '',
        '| model | path | latency (ms) | speed-up vs. eager fp32 | labels '
        'agree (%) | max abs logit diff |', '|---|---|---|---|---|---|'
    ]
    for r in rows:
        lines.append(
            f'| {r["model"]} | {r["path"]} | {r["latency_ms"]:.1f} | '
            f'{r["speedup"]:.2f}x | {r["label_agreement"]:.2f} | '
            f'{r["max_abs_diff"]:.1e} |')
    print('\n'.join(lines))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(osp.join(args.out, 'deployment.md'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        with open(osp.join(args.out, 'deployment.json'), 'w') as f:
            json.dump(dict(header=header, rows=rows), f, indent=2)


if __name__ == '__main__':
    main()
