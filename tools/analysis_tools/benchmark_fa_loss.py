"""Feature Affinity loss: exact blocked version vs. the naive N x N one.

Each measurement runs in a fresh subprocess: forward + backward of the FA
loss on (B, C1, H, W) SSSR features and (B, C2, H, W) SISR images, with
subsampling by 8 (N = H * W / 64). Peak memory is the growth of the
process's peak resident set over its level just before the call. Prints
time, peak memory, the blocked/naive ratios and the relative differences of
the loss and the gradients.

Example:
    python tools/analysis_tools/benchmark_fa_loss.py                # N = 8192 and 32768
    python tools/analysis_tools/benchmark_fa_loss.py --sizes 512x1024 --repeats 3
"""
import argparse
import json
import os.path as osp
import subprocess
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mmseg_dsrl.utils.cli import (  # noqa: E402
    hw_size,
    non_negative_int,
    positive_int,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

WORKER = r'''
import json, resource, sys, time
import torch
sys.path.insert(0, {repo!r})
from mmseg_dsrl.models.functional import naive_affinity_distance
from mmseg_dsrl.models.losses import FeatureAffinityLoss
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
        loss = FeatureAffinityLoss(subsample=8, block_size=block)(seg, sr)
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
        repo=REPO,
        args=(b, c1, c2, h, w, variant, block),
        repeats=repeats,
        out=out)
    proc = subprocess.run([sys.executable, '-c', code],
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
        default=['512x1024', '1024x2048'],
        help='HR feature sizes HxW (N = H*W/64)')
    parser.add_argument('--batch', type=positive_int, default=2)
    parser.add_argument('--c-seg', type=positive_int, default=19)
    parser.add_argument('--c-sr', type=positive_int, default=3)
    parser.add_argument('--block-size', type=positive_int, default=256)
    parser.add_argument('--repeats', type=positive_int, default=1)
    parser.add_argument(
        '--naive-max-n',
        type=non_negative_int,
        default=8192,
        help='skip the naive version above this N')
    args = parser.parse_args()
    import tempfile

    import torch
    print(f'batch {args.batch}, C_seg {args.c_seg}, C_sr {args.c_sr}, '
          f'subsample 8, block {args.block_size}, '
          f'{torch.get_num_threads()} threads; forward + backward')
    print(f'{"N":>6s} {"variant":>8s} {"time s":>8s} {"peak MiB":>9s}')
    tmp = tempfile.mkdtemp()
    for size in args.sizes:
        h, w = size
        n = (h // 8) * (w // 8)
        res = {}
        for variant in ('naive', 'blocked'):
            if variant == 'naive' and n > args.naive_max_n:
                continue
            res[variant] = measure(args.batch, args.c_seg, args.c_sr, h, w,
                                   variant, args.block_size, args.repeats,
                                   osp.join(tmp, f'{variant}_{n}.pt'))
            r = res[variant]
            if 'error' in r:
                print(f'{n:6d} {variant:>8s} failed: {r["error"]}')
            else:
                print(f'{n:6d} {variant:>8s} {r["time"]:8.2f} '
                      f'{r["peak_mib"]:9.0f}')
        if all(v in res and 'error' not in res[v]
               for v in ('naive', 'blocked')):
            a = torch.load(osp.join(tmp, f'naive_{n}.pt'))
            b = torch.load(osp.join(tmp, f'blocked_{n}.pt'))
            rel = {
                k: ((a[k] - b[k]).norm() / a[k].norm()).item()
                for k in ('loss', 'g_seg', 'g_sr')
            }
            print(
                f'{n:6d} blocked/naive: time '
                f'{res["blocked"]["time"] / res["naive"]["time"]:.2f}x, '
                f'peak memory '
                f'{res["blocked"]["peak_mib"] / res["naive"]["peak_mib"]:.3f}x'
                f'; relative difference loss {rel["loss"]:.1e}, grad seg '
                f'{rel["g_seg"]:.1e}, grad sr {rel["g_sr"]:.1e}')


if __name__ == '__main__':
    main()
