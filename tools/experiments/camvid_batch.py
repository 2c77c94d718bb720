"""Run CamVid recipe rows x seeds on one machine, several at a time, with
the longest common schedule that fits a time budget.

A probe first runs ``--parallel`` copies of ``--probe-model`` (the slowest
row) at once for ``--probe-iters`` iterations, to measure the seconds per
iteration under that load and each run's fixed cost; the schedule is then
planned (``mmseg_dsrl/analysis/batch_plan.py``) and the runs go in waves of
``--parallel``, each a ``camvid_recipe.py`` process writing its record into
``--records``. ``--iters N`` skips the probe. ``--summary`` (``batch.json``) keeps the
probe, the plan and every run's exit status.

Example (a GPU machine; ``tools/experiments/camvid_gpu.sh`` wraps it):
    python tools/experiments/camvid_batch.py --data-root /tmp/camvid \\
        --models espnetv2-lr espnetv2-dsrl espnetv2-dsrl-paper \\
        espnetv2-full --seeds 0 1 2 --budget-s 420 --parallel 6 \\
        --records OUT/records --work-dir /tmp/camvid_batch
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Sequence

from mmseg_dsrl.analysis.batch_plan import plan_iterations
from mmseg_dsrl.analysis.cli import positive_int

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECIPE = osp.join(REPO, 'tools', 'experiments', 'camvid_recipe.py')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--edgenets-checkpoint', default=None)
    parser.add_argument('--models', nargs='+', required=True)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--budget-s', type=float, default=420,
                        help='seconds for all the runs after the probe')
    parser.add_argument('--parallel', type=positive_int, default=4)
    parser.add_argument('--probe-model', default=None,
                        help='the row the probe times (default: the last of '
                        '--models)')
    parser.add_argument('--probe-iters', type=positive_int, default=40)
    parser.add_argument('--iters', type=positive_int, default=None,
                        help='a fixed schedule instead of the probe\'s plan')
    parser.add_argument('--val-interval', type=positive_int, default=500)
    parser.add_argument('--val-s', type=float, default=10.0,
                        help='seconds of one periodic validation')
    parser.add_argument('--min-iters', type=positive_int, default=1000)
    parser.add_argument('--max-iters', type=positive_int, default=None,
                        help='cap on the planned schedule')
    parser.add_argument('--split', default='val', choices=['val', 'dev'])
    parser.add_argument('--records', required=True)
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--summary', default=None,
                        help='where batch.json goes (default: --work-dir)')
    return parser.parse_args(argv)


def recipe_command(args, models: Sequence[str], seed: int, iters: int,
                   val_interval: int, records: str, work_dir: str) -> List:
    cmd = [
        sys.executable, RECIPE, '--data-root', args.data_root, '--models',
        *models, '--seeds',
        str(seed), '--iters',
        str(iters), '--val-interval',
        str(val_interval), '--split', args.split, '--latency-runs', '3',
        '--records', records, '--work-dir', work_dir
    ]
    if args.edgenets_checkpoint:
        cmd += ['--edgenets-checkpoint', args.edgenets_checkpoint]
    return cmd


def run_wave(jobs: Sequence[Dict], parallel: int) -> None:
    """Start every job (``cmd``, ``log``), ``parallel`` threads of the CPU
    each, and wait for all; sets ``returncode`` and ``wall_s``."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    env['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) // parallel))
    procs = []
    for job in jobs:
        os.makedirs(osp.dirname(job['log']), exist_ok=True)
        log = open(job['log'], 'w')
        start = time.perf_counter()
        procs.append((job, log, start,
                      subprocess.Popen(job['cmd'], stdout=log,
                                       stderr=subprocess.STDOUT, env=env,
                                       cwd=REPO)))
    for job, log, start, proc in procs:
        job['returncode'] = proc.wait()
        job['wall_s'] = time.perf_counter() - start
        log.close()


def read_record(records: str, key: str, seed: int) -> Dict:
    with open(osp.join(records, f'{key}_seed{seed}.json')) as f:
        return json.load(f)


def probe(args) -> Dict:
    key = args.probe_model or args.models[-1]
    folder = osp.join(args.work_dir, 'probe')
    jobs = [
        dict(cmd=recipe_command(args, [key], 1000 + i, args.probe_iters,
                                args.probe_iters,
                                osp.join(folder, 'records'),
                                osp.join(folder, f'run{i}')),
             log=osp.join(folder, f'run{i}.log'), seed=1000 + i)
        for i in range(args.parallel)
    ]
    run_wave(jobs, args.parallel)
    failed = [j['log'] for j in jobs if j['returncode']]
    if failed:
        sys.exit(f'the probe failed; see {failed}')
    records = [read_record(osp.join(folder, 'records'), key, j['seed'])
               for j in jobs]
    s_per_iter = max(r['s_per_iter'] for r in records)
    fixed_s = max(j['wall_s'] - r['s_per_iter'] * args.probe_iters
                  for j, r in zip(jobs, records))
    return dict(model=key, iters=args.probe_iters, s_per_iter=s_per_iter,
                fixed_s=fixed_s, wall_s=max(j['wall_s'] for j in jobs))


def main(argv=None) -> None:
    args = parse_args(argv)
    os.makedirs(args.records, exist_ok=True)
    runs = [(m, s) for s in args.seeds for m in args.models]
    summary = dict(models=args.models, seeds=args.seeds,
                   parallel=args.parallel, budget_s=args.budget_s)
    if args.iters is None:
        summary['probe'] = probe(args)
        print(f'probe: {summary["probe"]}', flush=True)
        summary['plan'] = plan_iterations(
            args.budget_s, len(runs), args.parallel,
            summary['probe']['s_per_iter'], summary['probe']['fixed_s'],
            args.val_interval, args.val_s, args.min_iters)
        iters = summary['plan']['iters']
        if args.max_iters:
            iters = min(iters, args.max_iters)
    else:
        iters = args.iters
    summary['iters'] = iters
    print(f'{len(runs)} runs of {iters} iterations, {args.parallel} at a '
          'time', flush=True)
    jobs = []
    for i in range(0, len(runs), args.parallel):
        wave = [
            dict(cmd=recipe_command(args, [m], s, iters, args.val_interval,
                                    args.records, args.work_dir),
                 log=osp.join(args.work_dir, 'logs', f'{m}_seed{s}.log'),
                 model=m, seed=s) for m, s in runs[i:i + args.parallel]
        ]
        run_wave(wave, args.parallel)
        for job in wave:
            if job['returncode'] == 0:
                record = read_record(args.records, job['model'], job['seed'])
                status = f'mIoU {record["mIoU"]:.2f}'
            else:
                status = f'failed ({job["returncode"]}), see {job["log"]}'
            print(f'{job["model"]} seed {job["seed"]}: {status} '
                  f'({job["wall_s"]:.0f} s)', flush=True)
        jobs += wave
    summary['runs'] = [{k: j[k] for k in ('model', 'seed', 'returncode',
                                          'wall_s')} for j in jobs]
    path = args.summary or osp.join(args.work_dir, 'batch.json')
    with open(path, 'w') as f:
        json.dump(summary, f, indent=1)
    if any(j['returncode'] for j in jobs):
        sys.exit(1)


if __name__ == '__main__':
    main()
