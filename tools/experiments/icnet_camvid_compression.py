"""ICNet on CamVid: early exits and pruning with a fair fine-tuning budget.

For every seed of --seeds, on the CamVid ICNet-R18 w0.5 recipe:

1. trains the model (or reuses ``icnet_seed{S}`` that
   tools/experiments/camvid_recipe.py finished in the same --work-dir)
   and evaluates the same checkpoint at each exit (sub4, sub24, sub124);
2. prunes it to keep ratio --keep: progressively (the keep ratios of
   --progressive-steps, fine-tuning after each) and in one shot, both with
   --finetune-iters fine-tuning iterations in total (split equally between
   the progressive steps), via ``mmseg_dsrl.compression.prune_and_finetune``;
3. trains the model at --keep of the width from scratch (``width_multiplier``
   scaled) for the training schedule plus the fine-tuning budget, so that it
   has seen as many iterations as a pruned model.

Then measures parameters, GFLOPs and CPU latency (all models round-robin in
one process, median) at 360x480 and writes compression.json and
compression.md (per-seed mIoU, mean ± std, paired differences, where it
ran and the command) under --work-dir; compression.json is the raw record
to commit beside a page that quotes it. Finished parts are reused, so the
recipe can be interrupted.

Example (about 45 minutes a seed on a 2-core CPU):
    python tools/experiments/icnet_camvid_compression.py \
        --data-root ../shared/datasets/camvid --seeds 0 1 2 \
        --work-dir work_dirs/camvid_1000i
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
from functools import partial

from mmseg_dsrl.analysis.cli import (
    keep_ratio,
    non_negative_int,
    positive_float,
    positive_int,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

CONFIG = osp.join(REPO, 'configs', 'camvid',
                  'icnet-cascade_r18-d8-w0.5_1xb4-1000i_camvid-360x480.py')
EXITS = ('sub4', 'sub24', 'sub124')
SHAPE = (360, 480)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--data-root', required=True, help='CamVid in the SegNet layout')
    parser.add_argument(
        '--work-dir', default=osp.join(REPO, 'work_dirs', 'camvid_1000i'))
    parser.add_argument(
        '--seeds', type=non_negative_int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--keep', type=keep_ratio, default=0.5)
    parser.add_argument(
        '--progressive-steps',
        type=keep_ratio,
        nargs='+',
        default=[0.75, 0.5],
        help='keep ratios of the progressive schedule (last = --keep)')
    parser.add_argument('--finetune-iters', type=positive_int, default=600)
    parser.add_argument(
        '--finetune-lr-scale', type=positive_float, default=0.1)
    parser.add_argument(
        '--extra-lr-scales',
        type=positive_float,
        nargs='*',
        default=[],
        help='also fine-tune both schedules at these fractions of the '
        'training LR (the fine-tuning LR is a prune.py default to justify)')
    parser.add_argument('--latency-runs', type=positive_int, default=20)
    args = parser.parse_args(argv)
    if args.progressive_steps[-1] != args.keep:
        parser.error(f'--progressive-steps must end at --keep {args.keep}, '
                     f'got {args.progressive_steps}')
    return args


def prune_or_reuse(folder: str, checkpoint: str, steps, args, seed: int,
                   lr_scale: float) -> dict:
    """The last row of ``prune_and_finetune``'s summary for one pruning
    schedule (read back from its summary.json when it already finished)."""
    summary = osp.join(folder, 'summary.json')
    if osp.isfile(summary):
        print(f'== {folder}: reusing the finished pruning run', flush=True)
        with open(summary) as f:
            return json.load(f)[-1]
    if osp.isdir(folder) and os.listdir(folder):
        raise FileExistsError(f'{folder} holds an unfinished pruning run; '
                              'move it away to rerun it')
    from mmseg_dsrl.analysis.configs import (
        load_config,
        use_bn_without_cuda,
    )
    from mmseg_dsrl.analysis.measurement import inference_complexity
    from mmseg_dsrl.analysis.runs import set_data_root
    from mmseg_dsrl.compression import prune_and_finetune
    cfg = load_config(CONFIG, {'randomness.seed': seed})
    set_data_root(cfg, args.data_root)
    use_bn_without_cuda(cfg)
    return prune_and_finetune(
        cfg,
        checkpoint,
        folder,
        steps=steps,
        finetune_iters=args.finetune_iters // len(steps),
        finetune_lr_scale=lr_scale,
        trace_shape=SHAPE,
        measure=partial(inference_complexity, shape=SHAPE))[-1]


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.measurement import (
        build_inference_model,
        inference_complexity,
        random_inputs,
        round_robin_times,
    )
    from mmseg_dsrl.analysis.configs import load_config
    from mmseg_dsrl.analysis.pruning_study import (
        narrower_width_options,
        pruning_arms,
    )
    from mmseg_dsrl.analysis.runs import (
        evaluate_checkpoint,
        mean_std,
        paired_differences,
        provenance,
        train_or_reuse,
    )
    os.makedirs(args.work_dir, exist_ok=True)
    base_cfg = load_config(CONFIG)
    iters = base_cfg.train_cfg.max_iters
    width = base_cfg.model.backbone.width_multiplier
    miou = {}  # arm -> [mIoU per seed]
    models = {}  # arm -> model of the first seed (for FLOPs and latency)

    def record(arm, value, model=None):
        miou.setdefault(arm, []).append(value)
        if model is not None and arm not in models:
            models[arm] = model

    for seed in args.seeds:
        run_dir = osp.join(args.work_dir, f'icnet_seed{seed}')
        metrics, model = train_or_reuse(run_dir, CONFIG, args.data_root,
                                        None, seed)
        checkpoint = osp.join(run_dir, metrics['checkpoint'])
        exits_file = osp.join(run_dir, 'exits.json')
        if osp.isfile(exits_file):
            with open(exits_file) as f:
                exits = json.load(f)
        else:
            exits = {}
            for exit in EXITS:
                cfg = load_config(
                    osp.join(run_dir, osp.basename(CONFIG)),
                    {'model.test_cfg.exit': exit})
                exits[exit] = evaluate_checkpoint(
                    cfg, checkpoint, osp.join(run_dir, f'eval_{exit}'),
                    args.data_root)['mIoU']
            with open(exits_file, 'w') as f:
                json.dump(exits, f, indent=2)
        for exit in EXITS:
            record(f'exit {exit}', exits[exit])
            if f'exit {exit}' not in models:
                models[f'exit {exit}'] = build_inference_model(
                    load_config(
                        osp.join(run_dir, osp.basename(CONFIG)),
                        {'model.test_cfg.exit': exit}), checkpoint)

        prune_dir = osp.join(args.work_dir, f'icnet_prune_seed{seed}')
        for name, steps, lr_scale in pruning_arms(args.progressive_steps, args.keep, args.finetune_lr_scale,
                     args.extra_lr_scales):
            folder = osp.join(prune_dir,
                              '_'.join(['keep', *map(str, steps)]))
            if lr_scale != args.finetune_lr_scale:
                folder += f'_lr{lr_scale:g}'
            last = prune_or_reuse(folder, checkpoint, steps, args, seed,
                                  lr_scale)
            record(name, last['mIoU'],
                   build_inference_model(
                       load_config(last['config']), last['checkpoint']))

        scratch_width = width * args.keep
        metrics, scratch = train_or_reuse(
            osp.join(args.work_dir, f'icnet_w{scratch_width:g}_scratch_seed'
                     f'{seed}'), CONFIG, args.data_root,
            iters + args.finetune_iters, seed,
            narrower_width_options(base_cfg, args.keep))
        record(f'width {scratch_width:g} from scratch '
               f'({iters + args.finetune_iters} iters)', metrics['mIoU'],
               scratch)

    # Complexity and round-robin latency of one model per arm.
    x = random_inputs(models['exit sub124'], SHAPE)
    times = round_robin_times(
        {k: partial(m, x, mode='predict')
         for k, m in models.items()}, args.latency_runs)
    rows = []
    for k, m in models.items():
        c = inference_complexity(m, SHAPE)
        stats = mean_std(miou[k])
        rows.append(
            dict(
                arm=k,
                params=c['params'],
                gflops=c['flops'] / 1e9,
                latency_ms=statistics.median(times[k]) * 1e3,
                mious=miou[k],
                miou_mean=stats['mean'],
                miou_std=stats['std']))
    arms = pruning_arms(args.progressive_steps, args.keep, args.finetune_lr_scale,
                     args.extra_lr_scales)
    pruned = [a[0] for a in arms[:2]]
    scratch_arm = rows[-1]['arm']
    comparisons = {}
    for i in range(0, len(arms), 2):  # progressive vs. one-shot, each LR
        progressive, one_shot = arms[i][0], arms[i + 1][0]
        comparisons[f'{progressive} minus {one_shot}'] = paired_differences(
            miou[progressive], miou[one_shot])
    for name, _, _ in arms:
        comparisons[f'{name} minus {scratch_arm}'] = paired_differences(
            miou[name], miou[scratch_arm])
    for (name, _, _), base in zip(arms[2:],
                                  pruned * len(args.extra_lr_scales)):
        comparisons[f'{name} minus {base}'] = paired_differences(
            miou[name], miou[base])
    comparisons.update({
        'exit sub124 minus exit sub24':
        paired_differences(miou['exit sub124'], miou['exit sub24']),
        'exit sub24 minus exit sub4':
        paired_differences(miou['exit sub24'], miou['exit sub4']),
    })
    result = dict(
        seeds=args.seeds,
        finetune_iters=args.finetune_iters,
        finetune_lr_scale=args.finetune_lr_scale,
        threads=torch.get_num_threads(),
        rows=rows,
        paired_differences=comparisons,
        provenance=provenance(),
        command=' '.join(['python', osp.relpath(__file__, REPO)] +
                         list(sys.argv[1:] if argv is None else argv)))
    with open(osp.join(args.work_dir, 'compression.json'), 'w') as f:
        json.dump(result, f, indent=2)
    write_markdown(result, osp.join(args.work_dir, 'compression.md'))


def write_markdown(result: dict, path: str) -> None:
    from mmseg_dsrl.analysis.measurement_tables import compression_tables
    text = (f'seeds {result["seeds"]}; CPU latency: median of round-robin '
            f'runs, {result["threads"]} threads, batch 1 at '
            f'{SHAPE[0]}x{SHAPE[1]}\n\n' +
            '\n'.join(compression_tables(result)))
    with open(path, 'w') as f:
        f.write(text + '\n')
    print(text)


if __name__ == '__main__':
    main()
