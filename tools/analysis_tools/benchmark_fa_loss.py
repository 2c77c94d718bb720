"""Feature Affinity loss: fused kernel, blocked PyTorch and naive N x N.

Each measurement runs in a fresh subprocess: forward + backward of the FA
distance on (B, C1, H, W) SSSR features and (B, C2, H, W) SISR images, both
average-pooled by 8 (N = H * W / 64). Implementations: ``fused`` (the
compiled CPU kernel, mmseg_dsrl/ops), ``blocked`` (PyTorch row blocks, one
per ``--block-sizes`` value) and ``naive`` (both N x N matrices, only up to
``--naive-max-n``). Peak memory is the growth of the process's peak
resident set over its level just before the call. Prints time, peak memory,
and the relative differences of the loss and the gradients against the
naive version (or, above --naive-max-n, against the first blocked one).

Next to each time it prints the compute bound: the matrix-product FLOPs the
exact loss cannot avoid (forward: the N x N block products, 2 B N^2 (C1+C2);
backward: recomputing them and multiplying by the features, twice that)
divided by this machine's float32 matrix-product rate, measured first with
the same thread count on a large square product.

Examples:
    python tools/analysis_tools/benchmark_fa_loss.py   # N = 8192 and 32768
    python tools/analysis_tools/benchmark_fa_loss.py --sizes 512x1024 \
        --implementations blocked naive --block-sizes 16 64 256
"""
import argparse
import json
import os.path as osp
import subprocess
import sys

from mmseg_dsrl.analysis.cli import (
    hw_size,
    non_negative_int,
    positive_int,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

WORKER = r'''
import json, resource, sys, time
import torch
from mmseg_dsrl.models.functional import (affinity_distance,
                                          naive_affinity_distance)
import torch.nn.functional as F
torch.manual_seed(0)
b, c1, c2, h, w, variant, block = {args!r}
seg = torch.randn(b, c1, h, w, requires_grad=True)
sr = torch.randn(b, c2, h, w, requires_grad=True)
def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def run():
    if variant == 'naive':
        loss = naive_affinity_distance(F.avg_pool2d(seg, 8),
                                       F.avg_pool2d(sr, 8)).mean()
    else:
        loss = affinity_distance(F.avg_pool2d(seg, 8), F.avg_pool2d(sr, 8),
                                 block_size=block,
                                 implementation=variant).mean()
    loss.backward()
    return loss
before = peak_kib()
start = time.perf_counter()
loss = run()
elapsed = time.perf_counter() - start
peak = peak_kib() - before
times = [elapsed]
for _ in range({repeats} - 1):
    seg.grad = sr.grad = None
    start = time.perf_counter()
    loss = run()
    times.append(time.perf_counter() - start)
torch.save(dict(loss=loss.detach(), g_seg=seg.grad, g_sr=sr.grad), {out!r})
print(json.dumps(dict(time=min(times), peak_mib=peak / 1024)))
'''


def measure(b, c1, c2, h, w, variant, block, repeats, out):
    code = WORKER.format(
        args=(b, c1, c2, h, w, variant, block),
        repeats=repeats,
        out=out)
    proc = subprocess.run([sys.executable, '-c', code],
                          cwd=REPO,
                          capture_output=True,
                          text=True)
    if proc.returncode != 0:
        return dict(error=proc.stderr.strip().splitlines()[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--sizes',
        type=hw_size,
        nargs='+',
        default=[(512, 1024), (1024, 2048)],
        help='HR feature sizes HxW (N = H*W/64)')
    parser.add_argument('--batch', type=positive_int, default=2)
    parser.add_argument('--c-seg', type=positive_int, default=19)
    parser.add_argument('--c-sr', type=positive_int, default=3)
    parser.add_argument(
        '--implementations',
        nargs='+',
        choices=['fused', 'blocked', 'naive'],
        default=['fused', 'blocked', 'naive'],
        help='what to time (naive only up to --naive-max-n)')
    parser.add_argument(
        '--block-sizes',
        type=positive_int,
        nargs='+',
        default=[None],
        help='rows per block to compare (default: the automatic size)')
    parser.add_argument(
        '--repeats', type=positive_int, default=3,
        help='calls per measurement; the fastest counts (the first warms up)')
    parser.add_argument(
        '--naive-max-n',
        type=non_negative_int,
        default=8192,
        help='skip the naive version above this N')
    parser.add_argument('--out', default=None,
                        help='write the measurements here (JSON)')
    args = parser.parse_args()
    import tempfile

    import torch

    from mmseg_dsrl.models.functional import (auto_block_size,
                                              fused_affinity_available)
    if ('fused' in args.implementations
            and not fused_affinity_available(torch.zeros(1))):
        parser.error('the fused kernel is not built (mmseg_dsrl.ops); run '
                     '`pip install --no-build-isolation --no-deps -e .` or '
                     'leave "fused" out of --implementations')
    from mmseg_dsrl.analysis.measurement import matmul_rate
    rate = matmul_rate()
    print(f'batch {args.batch}, C_seg {args.c_seg}, C_sr {args.c_sr}, '
          f'subsample 8, {torch.get_num_threads()} threads; forward + '
          f'backward; float32 matrix-product rate {rate / 1e9:.0f} GFLOP/s')
    print(f'{"N":>6s} {"variant":>14s} {"time s":>8s} {"peak MiB":>9s} '
          f'{"bound s":>8s} {"x bound":>8s}')
    tmp = tempfile.mkdtemp()
    sizes = []
    for size in args.sizes:
        h, w = size
        n = (h // 8) * (w // 8)
        bound = 6 * args.batch * n**2 * (args.c_seg + args.c_sr) / rate
        res = {}
        variants = []
        if 'naive' in args.implementations and n <= args.naive_max_n:
            variants.append(('naive', None))
        if 'fused' in args.implementations:
            variants.append(('fused', None))
        if 'blocked' in args.implementations:
            variants += [('blocked', b) for b in args.block_sizes]
        for variant, block in variants:
            rows = block or auto_block_size(args.batch, n)
            key = variant if variant != 'blocked' else f'blocked {rows}'
            res[key] = measure(args.batch, args.c_seg, args.c_sr, h, w,
                               variant, rows, args.repeats,
                               osp.join(tmp, f'{key}_{n}.pt'))
            r = res[key]
            if 'error' in r:
                print(f'{n:6d} {key:>14s} failed: {r["error"]}')
            else:
                print(f'{n:6d} {key:>14s} {r["time"]:8.2f} '
                      f'{r["peak_mib"]:9.0f} {bound:8.2f} '
                      f'{r["time"] / bound:8.2f}')
        ok = [k for k in res if 'error' not in res[k]]
        sizes.append(dict(n=n, h=h, w=w, bound_s=bound, results=res,
                          reference=ok[0] if ok else None, differences={}))
        if len(ok) < 2:
            continue
        ref = ok[0] if ok[0] == 'naive' else next(
            (k for k in ok if k.startswith('blocked')), ok[0])
        sizes[-1]['reference'] = ref
        ref_out = torch.load(osp.join(tmp, f'{ref}_{n}.pt'))
        for key in ok:
            if key == ref:
                continue
            out = torch.load(osp.join(tmp, f'{key}_{n}.pt'))
            rel = {
                k: ((ref_out[k] - out[k]).norm() / ref_out[k].norm()).item()
                for k in ('loss', 'g_seg', 'g_sr')
            }
            memory = res[key]['peak_mib'] / max(res[ref]['peak_mib'], 1e-9)
            sizes[-1]['differences'][key] = dict(
                rel, time_ratio=res[key]['time'] / res[ref]['time'],
                memory_ratio=memory)
            print(f'{n:6d} {key}/{ref}: time '
                  f'{res[key]["time"] / res[ref]["time"]:.2f}x, peak memory '
                  f'{memory:.3f}x; relative difference loss '
                  f'{rel["loss"]:.1e}, grad seg {rel["g_seg"]:.1e}, grad sr '
                  f'{rel["g_sr"]:.1e}')
    if args.out:
        from mmseg_dsrl.analysis.runs import provenance
        with open(args.out, 'w') as f:
            json.dump(dict(batch=args.batch, c_seg=args.c_seg,
                           c_sr=args.c_sr, subsample=8,
                           repeats=args.repeats,
                           threads=torch.get_num_threads(),
                           matmul_rate=rate, sizes=sizes,
                           provenance=provenance()), f, indent=1)


if __name__ == '__main__':
    main()
