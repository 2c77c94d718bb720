"""Inference FLOPs of every DSRL config vs. its LR baseline and the stock
config at full input, side by side (the DSRL issue's acceptance figures).

For each architecture: GFLOPs and inference-graph parameters at --shape of
  * dsrl_*      (network sees the image at 0.5, SSSR deconvolutions),
  * lr-input_*  (same input, bilinear upsampling),
  * the stock mmseg config the two inherit, at the full input,
and the ratios DSRL/LR (target <= 1.05) and DSRL/stock (target <= 0.35).

Example:
    python tools/analysis_tools/dsrl_flops_table.py --shape 1024 2048 --out flops.json
"""
import argparse
import glob
import json
import os.path as osp
import time
from mmseg_dsrl.analysis.cli import positive_int

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def stock_base(path: str) -> str:
    """The config a plugin config inherits first (``mmseg::`` or local)."""
    import ast
    with open(path) as f:
        tree = ast.parse(f.read())
    bases = next(
        ast.literal_eval(node.value) for node in tree.body
        if isinstance(node, ast.Assign) and node.targets[0].id == '_base_')
    first = bases[0] if isinstance(bases, list) else bases
    if first.startswith('mmseg::'):
        import mmseg
        return osp.join(
            osp.dirname(mmseg.__file__), '.mim', 'configs',
            first[len('mmseg::'):])
    return osp.normpath(osp.join(osp.dirname(path), first))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--shape', type=positive_int, nargs=2, default=[1024, 2048])
    parser.add_argument('--filter', nargs='*', default=[],
                        help='only architectures containing one of these')
    parser.add_argument('--out', default=None, help='write json here')
    args = parser.parse_args()
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.measurement import (
        build_inference_model,
        inference_complexity,
    )
    from mmseg_dsrl.analysis.configs import load_config
    shape = tuple(args.shape)
    rows = []
    dsrl_cfgs = sorted(
        glob.glob(osp.join(REPO, 'configs/dsrl/dsrl_*cityscapes*.py')))
    print(f'input {shape}; GFLOPs (multiply-adds) | inference params (M)')
    print(f'{"architecture":32s} {"DSRL":>14s} {"LR base":>14s} '
          f'{"stock full":>14s} {"DSRL/LR":>8s} {"DSRL/stock":>10s}')
    for dsrl in dsrl_cfgs:
        arch = osp.basename(dsrl)[len('dsrl_'):].rsplit('_cityscapes', 1)[0]
        if args.filter and not any(f in arch for f in args.filter):
            continue
        lr = dsrl.replace('/dsrl_', '/lr-input_')
        res = {}
        for key, path in (('dsrl', dsrl), ('lr', lr), ('stock',
                                                       stock_base(dsrl))):
            start = time.perf_counter()
            model = build_inference_model(load_config(path))
            res[key] = inference_complexity(model, shape)
            res[key]['seconds'] = time.perf_counter() - start
            del model
        r_lr = res['dsrl']['flops'] / res['lr']['flops']
        r_st = res['dsrl']['flops'] / res['stock']['flops']
        fmt = lambda r: f'{r["flops"] / 1e9:7.1f}|{r["params"] / 1e6:6.2f}'  # noqa
        print(
            f'{arch:32s} {fmt(res["dsrl"]):>14s} {fmt(res["lr"]):>14s} '
            f'{fmt(res["stock"]):>14s} {r_lr:8.3f} {r_st:10.3f}',
            flush=True)
        rows.append(
            dict(
                architecture=arch,
                config=osp.relpath(dsrl, REPO),
                dsrl_over_lr=r_lr,
                dsrl_over_stock=r_st,
                **res))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=2)


if __name__ == '__main__':
    main()
