"""Training time per iteration of a DSRL config and its LR baseline, as
mmseg's training loop runs them.

Where ``profile_training_step.py`` times ``model.train_step`` alone on
random tensors (the model's share), this tool trains each config for
``--iters`` iterations with mmengine's Runner on real data -- data loading
and augmentation in the config's workers, the hooks (logging, parameter
scheduling, the timer) and the step -- and takes the wall time between the
ends of consecutive iterations, i.e. what a user waits per iteration. The
first ``--skip`` iterations (worker start-up, allocator warm-up) are left
out and the median of the rest is the run's time per iteration.

Runs cannot share a process's time slices like the train steps of the
profile can, so the tool runs rounds: each round trains every config once,
in an order shuffled per round, and a config's ratio is the median over
rounds of its time per iteration divided by the baseline's in the same
round (quartiles of the per-round ratios beside it). Validation and
checkpoints are switched off; each run writes only mmengine's logs, to
``--work-dir/<label>_round<k>``, which must not exist yet.

A config with an HR teacher (``model.hr_teacher``, e.g. ``dsrl-teacher_*``)
needs the teacher's weights: ``--teacher-checkpoint PATH``, or
``--random-teacher``, which saves the teacher config's freshly initialised
model into ``--work-dir`` and uses that (the step's cost does not depend on
the weights; its losses do, and are not what this tool measures).

Example (C=configs/camvid, S=bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid):
    python tools/analysis_tools/compare_training_time.py \\
        $C/dsrl_$S-180x240.py --baseline $C/lr-input_$S-180x240.py \\
        --data-root ../shared/datasets/camvid --iters 120 --skip 20 \\
        --rounds 5 --work-dir work_dirs/training_time
"""
import argparse
import json
import os
import os.path as osp
import random
import re
from typing import Dict, List, Optional

from mmseg_dsrl.analysis.cli import (add_dsrl_comparison_args,
                                  label_extra_configs, non_negative_int,
                                  positive_int)

BASELINE = 'LR baseline'
CONFIG = 'DSRL (config)'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dsrl_comparison_args(parser,
                             'more configs run in the same rounds')
    parser.add_argument('--data-root', default=None,
                        help='dataset root (default: the configs\' own)')
    parser.add_argument('--iters', type=positive_int, default=120,
                        help='training iterations per run')
    parser.add_argument('--skip', type=non_negative_int, default=20,
                        help='first iterations of each run left out')
    parser.add_argument('--rounds', type=positive_int, default=3)
    parser.add_argument('--seed', type=int, default=0,
                        help='training seed of every run and seed of the '
                        'per-round order')
    parser.add_argument('--work-dir', required=True,
                        help='parent of the runs\' log folders')
    parser.add_argument('--out', default=None, help='JSON file of results')
    teacher = parser.add_mutually_exclusive_group()
    teacher.add_argument('--teacher-checkpoint', default=None,
                         help='weights of the HR teacher of the configs that '
                         'have one (model.hr_teacher)')
    teacher.add_argument('--random-teacher', action='store_true',
                         help='give those configs a freshly initialised '
                         'teacher (saved into --work-dir): same cost, no '
                         'trained model needed')
    args = parser.parse_args(argv)
    if args.skip + 2 > args.iters:
        parser.error(f'--iters {args.iters} leaves fewer than 2 timed '
                     f'iterations after --skip {args.skip}')
    return args


def training_cfg(path: str, work_dir: str, iters: int, seed: int,
                 data_root: Optional[str],
                 teacher_checkpoint: Optional[str] = None):
    """``path``'s config, trained for ``iters`` iterations without
    validation or checkpoints, logging into ``work_dir``; a config with an
    HR teacher gets ``teacher_checkpoint`` as the teacher's weights."""
    from mmseg_dsrl.analysis.configs import (has_hr_teacher, load_config,
                                             use_bn_without_cuda)
    from mmseg_dsrl.analysis.runs import set_data_root
    cfg = load_config(path)
    use_bn_without_cuda(cfg)
    if data_root is not None:
        set_data_root(cfg, data_root)
    if has_hr_teacher(cfg) and teacher_checkpoint:  # main() checked it is given
        cfg.model.hr_teacher.checkpoint = teacher_checkpoint
    cfg.train_cfg.max_iters = iters
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = None
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    # Unique per run: mmengine keys its logger and visualizer instances by
    # the experiment name, which defaults to the second the run started.
    cfg.experiment_name = osp.basename(work_dir)
    cfg.log_level = 'WARNING'
    return cfg


def time_one_run(path: str, work_dir: str, args,
                 teacher_checkpoint: Optional[str] = None) -> float:
    """Seconds per iteration of one training run of ``path``."""
    from mmengine.runner import Runner

    from mmseg_dsrl.analysis.measurement import (
        IterationEndTimes,
        seconds_per_iteration,
    )
    runner = Runner.from_cfg(
        training_cfg(path, work_dir, args.iters, args.seed, args.data_root,
                     teacher_checkpoint))
    timer = IterationEndTimes()
    runner.register_hook(timer)
    runner.train()
    if len(timer.ends) != args.iters:
        raise RuntimeError(f'{path}: {len(timer.ends)} iterations recorded, '
                           f'{args.iters} expected')
    return seconds_per_iteration(timer.ends, args.skip)


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.measurement import paired_ratios
    configs: Dict[str, str] = {BASELINE: args.baseline, CONFIG: args.config}
    configs.update(label_extra_configs(args.extra, configs))
    run_dirs = {(label, r): osp.join(
        args.work_dir, f'{re.sub(r"[^A-Za-z0-9.-]+", "-", label).strip("-")}_round{r}')
                for label in configs for r in range(args.rounds)}
    taken = [d for d in run_dirs.values() if osp.exists(d)]
    if taken:
        raise FileExistsError(
            f'{taken[0]} exists; this tool does not overwrite earlier runs '
            '(pick another --work-dir)')
    from mmseg_dsrl.analysis.configs import (has_hr_teacher, load_config,
                                             save_initialised_teacher)
    with_teacher = [
        p for p in configs.values() if has_hr_teacher(load_config(p))
    ]
    teacher_checkpoint = args.teacher_checkpoint
    if with_teacher and not (teacher_checkpoint or args.random_teacher):
        raise ValueError(
            f'{with_teacher[0]} trains with an HR teacher (model.hr_teacher): '
            'give --teacher-checkpoint PATH or --random-teacher')
    if with_teacher and args.random_teacher:
        os.makedirs(args.work_dir, exist_ok=True)
        teacher_checkpoint = osp.join(args.work_dir, 'random_teacher.pth')
        if osp.exists(teacher_checkpoint):
            raise FileExistsError(
                f'{teacher_checkpoint} exists; this tool does not overwrite '
                'earlier files (pick another --work-dir)')
        save_initialised_teacher(load_config(with_teacher[0]),
                                 teacher_checkpoint)
    rng = random.Random(args.seed)
    order = list(configs)
    times: Dict[str, List[float]] = {label: [] for label in configs}
    for r in range(args.rounds):
        rng.shuffle(order)
        for label in order:
            run_dir = run_dirs[(label, r)]
            os.makedirs(run_dir)
            seconds = time_one_run(configs[label], run_dir, args,
                                   teacher_checkpoint)
            print(f'round {r}: {label}: {seconds * 1e3:.1f} ms/iter',
                  flush=True)
            times[label].append(seconds)
    rows = paired_ratios(times, BASELINE)
    print(f'\ntraining time per iteration (median of iterations '
          f'{max(args.skip, 1) + 1}-{args.iters}), {args.rounds} rounds in '
          'shuffled '
          'order; x LR: median of the per-round ratios (quartiles)')
    print(f'{"config":>16s} {"ms/iter":>9s} {"x LR":>6s} {"quartiles":>13s}')
    for row in rows:
        print(f'{row["name"]:>16s} {row["ms"]:9.1f} {row["ratio"]:6.3f} '
              f'{row["ratio_q1"]:6.3f}-{row["ratio_q3"]:.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(
                dict(
                    configs=configs,
                    iters=args.iters,
                    skip=args.skip,
                    rounds=args.rounds,
                    teacher_checkpoint=teacher_checkpoint,
                    seconds_per_iter=times,
                    rows=rows),
                f,
                indent=2)
    return rows


if __name__ == '__main__':
    main()
