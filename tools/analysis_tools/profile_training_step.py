"""Where a DSRL training step spends its time, against its LR baseline.

Times ``model.train_step`` (data preprocessing, forward, losses, backward,
optimizer step: what mmengine's loop runs per iteration, without data
loading) on random images and labels of the config's crop and batch size,
for:

* the LR baseline (--baseline),
* DSRL (the config), and DSRL with parts switched off: without FA, and
  without FA and SISR (SSSR only) -- the differences between neighbouring
  rows are what FA, SISR and SSSR cost, forward and backward together;

all in one process, in rounds: each round runs every variant once, in an
order shuffled per round (the first step of a round measured 1-4 % slower
than the same model later in the round, so a fixed order biases the
ratios). Each variant's ratio to the LR baseline is the median over the
rounds of its time divided by the baseline's time in the same round, so
drift of the shared machine between rounds cancels; the quartiles of those
per-round ratios show the spread. --noise-floor times a second, separately
built copy of the baseline: its ratio (ideally 1.000) is what the
measurement cannot resolve. With --profile it also prints torch.profiler's
forward time per module group (backbone, decode head and its loss,
auxiliary heads, SISR head and its loss, FA loss), the top operators of
one DSRL step, and every operator's self time in the DSRL step minus the
LR step (--profile-steps steps each), largest addition first: what DSRL
adds, operator by operator.

Example (C=configs/camvid, S=bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid):
    python tools/analysis_tools/profile_training_step.py \\
        $C/dsrl_$S-180x240.py --baseline $C/lr-input_$S-180x240.py \\
        --extra $C/dsrl-paper_$S-180x240.py --rounds 30 --profile
"""
import argparse
import copy
import json

import torch

from mmseg_dsrl.analysis.cli import (add_dsrl_comparison_args,
                                  label_extra_configs, positive_int)

#: Label of the second copy of the baseline (--noise-floor).
NOISE_FLOOR = 'LR baseline, 2nd copy'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dsrl_comparison_args(
        parser, 'more configs timed in the same rounds (e.g. a dsrl-paper '
        'config next to the shipped one)')
    parser.add_argument('--rounds', type=positive_int, default=10)
    parser.add_argument('--warmup', type=positive_int, default=2)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the per-round order of the variants')
    parser.add_argument(
        '--noise-floor', action='store_true',
        help='also time a second, separately built copy of the baseline')
    parser.add_argument('--batch-size', type=positive_int, default=None,
                        help='default: the config\'s train batch size')
    parser.add_argument('--profile', action='store_true')
    parser.add_argument('--profile-steps', type=positive_int, default=5,
                        help='steps per model profiled for the operator '
                        'difference')
    parser.add_argument('--top', type=positive_int, default=15,
                        help='operators listed in the difference')
    parser.add_argument('--out', default=None, help='JSON file of results')
    return parser.parse_args(argv)


def build(cfg):
    """Model (train mode) and optimizer wrapper as the Runner builds them."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from mmseg_dsrl.analysis.configs import use_bn_without_cuda
    init_default_scope('mmseg')
    use_bn_without_cuda(cfg)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    return model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))


def main(argv=None) -> None:
    args = parse_args(argv)
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.batches import config_batch
    from mmseg_dsrl.analysis.configs import load_config
    from mmseg_dsrl.analysis.measurement import paired_ratios, round_robin_times
    from mmseg_dsrl.analysis.profiling import (
        operator_difference,
        operator_times,
    )
    dsrl_cfg = load_config(args.config)
    if dsrl_cfg.model.get('type') != 'DSRLEncoderDecoder':
        raise ValueError(f'{args.config} is not a DSRL config (model.type '
                         f'{dsrl_cfg.model.get("type")!r})')
    variants = {'LR baseline': load_config(args.baseline)}
    if dsrl_cfg.model.get('sisr_head') is not None:
        variants['DSRL: SSSR only'] = load_config(
            args.config, {'model.fa_loss': None, 'model.sisr_head': None})
        if dsrl_cfg.model.get('fa_loss') is not None:
            variants['DSRL: SSSR + SISR'] = load_config(
                args.config, {'model.fa_loss': None})
    variants['DSRL (config)'] = dsrl_cfg
    for name, path in label_extra_configs(args.extra, variants).items():
        variants[name] = load_config(path)
    if args.noise_floor:
        variants[NOISE_FLOOR] = load_config(args.baseline)
    batch = args.batch_size or dsrl_cfg.train_dataloader.batch_size
    torch.manual_seed(0)
    built = {k: build(cfg) for k, cfg in variants.items()}
    data = {k: config_batch(cfg, batch) for k, cfg in variants.items()}

    def step(key):
        model, optim = built[key]
        return lambda: model.train_step(data[key], optim)

    times = round_robin_times({k: step(k)
                               for k in variants}, args.rounds, args.warmup,
                              shuffle_seed=args.seed, no_grad=False)
    rows = paired_ratios(times, 'LR baseline')
    print(f'train_step on random data, batch {batch}, '
          f'{torch.get_num_threads()} threads, {args.rounds} rounds in '
          'shuffled order; x LR: median of the per-round ratios '
          '(quartiles)')
    print(f'{"variant":>22s} {"ms/iter":>9s} {"x LR":>6s} '
          f'{"quartiles":>13s} {"added ms":>9s}')
    previous = None
    for row in rows:
        added = ('' if previous is None or row['name'] == NOISE_FLOOR else
                 f'{row["ms"] - previous:+9.1f}')
        print(f'{row["name"]:>22s} {row["ms"]:9.1f} {row["ratio"]:6.3f} '
              f'{row["ratio_q1"]:6.3f}-{row["ratio_q3"]:.3f} {added:>9s}')
        previous = row['ms']
    result = dict(batch=batch, threads=torch.get_num_threads(), rows=rows)
    if args.profile:
        result['profile'] = profile(built['DSRL (config)'],
                                    data['DSRL (config)'])
        base_ops = operator_times(*built['LR baseline'], data['LR baseline'],
                                  args.profile_steps)
        dsrl_ops = operator_times(*built['DSRL (config)'],
                                  data['DSRL (config)'], args.profile_steps)
        print(f'\noperators by what DSRL adds over the LR step (self CPU '
              f'ms per step, mean of {args.profile_steps} profiled steps '
              f'each; all operators: LR {sum(base_ops.values()):.1f}, DSRL '
              f'{sum(dsrl_ops.values()):.1f})')
        print(f'{"operator":>45s} {"LR":>8s} {"DSRL":>8s} {"added":>8s}')
        rows = operator_difference(base_ops, dsrl_ops)
        for name, lr_ms, dsrl_ms, added in rows[:args.top]:
            print(f'{name[:45]:>45s} {lr_ms:8.2f} {dsrl_ms:8.2f} '
                  f'{added:+8.2f}')
        result['operators_added'] = rows
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


def profile(built, data) -> dict:
    """Forward ms per module group and the top operators of one step."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from mmseg_dsrl.analysis.profiling import labelled_groups
    model, optim = built
    with labelled_groups(model), torch_profile(
            activities=[ProfilerActivity.CPU]) as prof:
        model.train_step(data, optim)
    events = prof.key_averages()
    groups = {
        e.key[len('group::'):]: e.cpu_time_total / 1e3
        for e in events if e.key.startswith('group::')
    }
    print('\nforward time per module group of one DSRL step (ms):')
    for name, ms in groups.items():
        print(f'  {name:>16s} {ms:8.1f}')
    print(events.table(sort_by='self_cpu_time_total', row_limit=15))
    return dict(forward_ms_per_group=groups)


if __name__ == '__main__':
    main()
