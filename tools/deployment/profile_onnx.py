"""Where the time of a deployed model goes: ONNX Runtime, operator by
operator, against the machine's matrix-product rate.

Exports CONFIG (+ CHECKPOINT) as tools/deployment/pytorch2onnx.py does,
runs it --runs times under ORT's profiler (fp32, all graph optimisations,
the process's threads; one warm-up run dropped) and prints, per operator
type, the time per run, its share, the arithmetic it does and the rate it
reaches as a fraction of the float32 matrix-product rate measured in the
same run; then the slowest nodes. Writes profile.json (and the table) to
--out.

Example (the deployment page's profile of ICNet's full-resolution exit):
    python tools/deployment/profile_onnx.py \\
        configs/camvid/icnet-cascade_r18-d8-w0.5_1xb4-1000i_camvid-360x480.py \\
        --shape 360 480 --runs 30 --out work_dirs/profile_icnet
"""
import argparse
import json
import os
import os.path as osp
import tempfile

import torch
from mmengine.config import DictAction

from mmseg_dsrl.analysis.cli import positive_int


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--checkpoint', default=None,
                        help='weights (default: the config\'s random init; '
                        'operator times do not depend on the values)')
    parser.add_argument('--shape', type=positive_int, nargs=2,
                        default=[360, 480], metavar=('H', 'W'))
    parser.add_argument('--runs', type=positive_int, default=30)
    parser.add_argument('--top', type=positive_int, default=10,
                        help='how many of the slowest nodes to list')
    parser.add_argument('--out', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.configs import load_config
    from mmseg_dsrl.analysis.measurement import (
        build_inference_model,
        matmul_rate,
        random_inputs,
    )
    from mmseg_dsrl.analysis.onnx_profile import op_type_rows, profile_onnx
    from mmseg_dsrl.analysis.training_logs import markdown_table
    from mmseg_dsrl.export.onnx import export_onnx
    out = args.out or tempfile.mkdtemp(prefix='dsrl_profile_')
    os.makedirs(out, exist_ok=True)
    cfg = load_config(args.config, args.cfg_options)
    model = build_inference_model(cfg, args.checkpoint, 'cpu')
    torch.manual_seed(0)
    x = random_inputs(model, tuple(args.shape))
    onnx_path = osp.join(out, 'model.onnx')
    export_onnx(model, x, onnx_path)
    rate = matmul_rate(device='cpu')
    nodes = profile_onnx(onnx_path, x.numpy(), args.runs,
                         torch.get_num_threads(), out)
    rows = op_type_rows(nodes, rate)
    total_ms = sum(n['ms'] for n in nodes)
    total_flops = sum(n['flops'] for n in nodes)
    lines = [
        f'{osp.basename(args.config)} at {args.shape[0]}x{args.shape[1]}, '
        f'ONNX Runtime, {torch.get_num_threads()} threads, {args.runs} runs: '
        f'{total_ms:.2f} ms of operator time per run, '
        f'{total_flops / 1e9:.3f} GFLOP counted; fp32 matrix-product rate '
        f'{rate / 1e9:.0f} GFLOP/s measured now, so the arithmetic alone '
        f'would take {total_flops / rate * 1e3:.2f} ms '
        f'({total_ms / (total_flops / rate * 1e3):.1f}x)', ''
    ]
    lines += markdown_table(
        ['op', 'nodes', 'ms/run', 'share', 'GFLOP', 'GFLOP/s',
         'of the rate'],
        [[r['op'], r['nodes'], f'{r["ms"]:.2f}', f'{r["share"]:.1f} %',
          f'{r["gflops"]:.3f}', f'{r["achieved_gflops_s"]:.0f}'
          if r['flops'] else '', f'{r["of_rate"] * 100:.0f} %'
          if r['flops'] else '']
         for r in rows]).split('\n')
    lines += ['', f'slowest {args.top} nodes:', '']
    lines += markdown_table(
        ['node', 'op', 'ms/run', 'GFLOP'],
        [[n['name'], n['op'], f'{n["ms"]:.3f}', f'{n["flops"] / 1e9:.3f}']
         for n in nodes[:args.top]]).split('\n')
    text = '\n'.join(lines)
    print(text)
    with open(osp.join(out, 'profile.md'), 'w') as f:
        f.write(text + '\n')
    with open(osp.join(out, 'profile.json'), 'w') as f:
        json.dump(dict(config=args.config, shape=args.shape, runs=args.runs,
                       threads=torch.get_num_threads(), matmul_rate=rate,
                       op_types=rows, nodes=nodes), f, indent=1)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
