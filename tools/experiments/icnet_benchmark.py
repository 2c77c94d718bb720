"""ICNet early exits vs. mmseg's ICNet and PSPNet, side by side in one run.

Latency (median of round-robin timed runs, so machine drift hits every model
alike) and inference GFLOPs at --shape for:
  * the paper's ICNet-R50 with exit sub4 / sub24 / sub124,
  * the same at width 0.5 (the released compressed widths),
  * mmseg's stock ICNet-R50 and PSPNet-R50-d8,
then (unless --no-onnx) exports the sub124 graph to ONNX (opset 18) and
compares ONNX Runtime's logits with PyTorch's.

Example:
    python tools/experiments/icnet_benchmark.py --shape 1024 2048 --runs 3 \
        --out icnet_benchmark.json
"""
import argparse
import json
import os.path as osp
import statistics
import tempfile
import time

import torch
from mmseg_dsrl.analysis.cli import non_negative_int, positive_int

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

ICNET = 'configs/icnet/icnet-cascade_r50-d8_4xb2-80k_cityscapes-832x832.py'
ICNET_W05 = ('configs/icnet/'
             'icnet-cascade_r50-d8-w0.5_4xb2-80k_cityscapes-832x832.py')
STOCK_ICNET = 'mmseg::icnet/icnet_r50-d8_4xb2-80k_cityscapes-832x832.py'
PSPNET = 'mmseg::pspnet/pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py'


def models():
    return [
        ('ICNet-R50 sub4', ICNET, dict(exit='sub4')),
        ('ICNet-R50 sub24', ICNET, dict(exit='sub24')),
        ('ICNet-R50 sub124', ICNET, dict(exit='sub124')),
        ('ICNet-R50 w0.5 sub124', ICNET_W05, dict(exit='sub124')),
        ('mmseg ICNet-R50', STOCK_ICNET, {}),
        ('mmseg PSPNet-R50-d8', PSPNET, {}),
    ]


def load(path, test_cfg):
    from mmengine.config import Config

    from mmseg_dsrl.analysis.measurement import build_inference_model
    if path.startswith('mmseg::'):
        import mmseg
        path = osp.join(
            osp.dirname(mmseg.__file__), '.mim', 'configs',
            path[len('mmseg::'):])
    else:
        path = osp.join(REPO, path)
    cfg = Config.fromfile(path)
    cfg.model.test_cfg.update(test_cfg)
    return build_inference_model(cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--shape', type=positive_int, nargs=2, default=[1024, 2048])
    parser.add_argument('--runs', type=positive_int, default=3)
    parser.add_argument('--warmup', type=non_negative_int, default=1)
    parser.add_argument('--no-onnx', action='store_true')
    parser.add_argument('--out', default=None, help='write json here')
    args = parser.parse_args()
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.measurement import inference_complexity, random_inputs
    shape = tuple(args.shape)
    built = [(name, load(path, tc)) for name, path, tc in models()]
    rows = {name: dict(model=name) for name, _ in built}
    for name, model in built:
        rows[name]['gflops'] = inference_complexity(model,
                                                    shape)['flops'] / 1e9
        rows[name]['params_m'] = sum(p.numel()
                                     for p in model.parameters()) / 1e6
    x = random_inputs(built[0][1], shape)
    times = {name: [] for name, _ in built}
    with torch.no_grad():
        for _ in range(args.warmup):
            for _, model in built:
                model(x, mode='predict')
        for _ in range(args.runs):
            for name, model in built:
                start = time.perf_counter()
                model(x, mode='predict')
                times[name].append(time.perf_counter() - start)
    psp = statistics.median(times['mmseg PSPNet-R50-d8'])
    print(f'input 1x3x{shape[0]}x{shape[1]}, CPU, {torch.get_num_threads()} '
          f'threads, median of {args.runs} round-robin runs '
          f'after {args.warmup} warm-up')
    print(f'{"model":24s} {"GFLOPs":>8s} {"params M":>9s} {"latency s":>10s} '
          f'{"spread s":>9s} {"x faster than PSPNet":>21s}')
    for name, _ in built:
        med = statistics.median(times[name])
        rows[name].update(
            latency_s=med,
            min_s=min(times[name]),
            max_s=max(times[name]),
            speedup_vs_pspnet=psp / med)
        print(f'{name:24s} {rows[name]["gflops"]:8.1f} '
              f'{rows[name]["params_m"]:9.2f} {med:10.3f} '
              f'{max(times[name]) - min(times[name]):9.3f} {psp / med:21.1f}')
    onnx_diff = None
    if not args.no_onnx:
        from mmseg_dsrl.export.onnx import (
            export_onnx,
            max_abs_difference,
        )
        model = dict(built)['ICNet-R50 sub124']
        path = osp.join(tempfile.mkdtemp(), 'icnet_sub124.onnx')
        x = torch.randn(1, 3, *shape)
        export_onnx(model, x, path)
        diff = max_abs_difference(model, path, x)
        print(f'ONNX (opset 18) export of ICNet-R50 sub124 at {shape}: '
              f'max |logits torch - onnxruntime| = {diff:.2e}')
        onnx_diff = diff
    if args.out:
        from mmseg_dsrl.analysis.runs import provenance
        with open(args.out, 'w') as f:
            json.dump(
                dict(shape=list(shape), runs=args.runs, warmup=args.warmup,
                     reference='mmseg PSPNet-R50-d8',
                     rows=list(rows.values()),
                     onnx_max_abs_diff=onnx_diff,
                     provenance=provenance()), f, indent=2)


if __name__ == '__main__':
    main()
