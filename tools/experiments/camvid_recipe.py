"""CamVid results recipe: DSRL vs. its same-input baseline (and references).

Trains each model from scratch on CamVid train with the same schedule and
evaluates on val (11 classes, void ignored), once per seed of --seeds. Then
measures inference GFLOPs and CPU latency at 360x480 and writes results.json
and results.md under --work-dir (new folder each run unless given). Runs that
finished in --work-dir (their metrics.json and checkpoint are there) are
reused, so an interrupted benchmark continues where it stopped and more seeds
can be added later.

With --records DIR each run also leaves its record (one JSON per run,
``mmseg_dsrl.analysis.run_records``) in DIR. --from-records DIR trains
nothing: it regenerates every table of --page marked as generated from the
records under DIR, or with --check only compares (exit 1 at the first
difference).

Example (about 100 minutes on a 2-core CPU):
    python tools/experiments/camvid_recipe.py \
        --data-root ../shared/datasets/camvid
    python tools/experiments/camvid_recipe.py --data-root D \
        --models dsrl lr --seeds 0
    python tools/experiments/camvid_recipe.py \
        --from-records results/camvid-bisenet --check
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

from mmseg_dsrl.analysis.cli import non_negative_int, positive_int

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

MODELS = {
    'full': ('BiSeNetV1-R18 w0.5, 360x480 input',
             'configs/camvid/bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-'
             '360x480.py', (360, 480)),
    'lr': ('same, 180x240 input (bilinear to 360x480)',
           'configs/camvid/lr-input_bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-'
           '180x240.py', (180, 240)),
    'dsrl': ('DSRL as shipped (SSSR + SISR + FA into the SR side only)',
             'configs/camvid/dsrl_bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-'
             '180x240.py', (180, 240)),
    'dsrl-paper': ('DSRL, paper setting (SSSR + SISR + FA, w_fa 1.0)',
                   'configs/camvid/dsrl-paper_bisenetv1_r18-d32-w0.5_1xb4-'
                   '1000i_camvid-180x240.py', (180, 240)),
    'icnet': ('ICNet-R18 w0.5 (paper cascade), 360x480',
              'configs/camvid/icnet-cascade_r18-d8-w0.5_1xb4-1000i_camvid-'
              '360x480.py', (360, 480)),
    'icnet-lr': ('ICNet-R18 w0.5, 180x240 input (bilinear to 360x480)',
                 'configs/camvid/lr-input_icnet-cascade_r18-d8-w0.5_1xb4-'
                 '1000i_camvid-180x240.py', (180, 240)),
    'dsrl-icnet': ('DSRL-ICNet as shipped, 180x240 input -> 360x480',
                   'configs/camvid/dsrl_icnet-cascade_r18-d8-w0.5_1xb4-1000i_'
                   'camvid-180x240.py', (180, 240)),
    # Its teacher is the 'full' run of the same seed and split (in
    # --teacher-work-dir, by default --work-dir).
    'dsrl-teacher': ('DSRL as shipped + HR teacher (the full-resolution run '
                     'of the same seed: pixel KL + pair-wise affinity)',
                     'configs/camvid/dsrl-teacher_bisenetv1_r18-d32-w0.5_'
                     '1xb4-1000i_camvid-180x240.py', (180, 240)),
}
# Fine-tuned from EdgeNets' Cityscapes ESPNetv2 (configs/espnetv2; the
# checkpoint the configs name, or --edgenets-checkpoint).
_ESPNETV2 = 'configs/espnetv2/{}espnetv2_s2.0_1xb4-1000i_camvid-{}.py'
_EDGENETS_512x256 = ('../shared/pretrained/edgenets/'
                     'espnetv2_s_2.0_city_512x256.pth')
MODELS.update({
    'espnetv2-full': ('ESPNetv2 s=2.0 (Cityscapes weights), 360x480 input',
                      _ESPNETV2.format('', '360x480'), (360, 480)),
    'espnetv2-lr': ('same, 180x240 input (bilinear to 360x480)',
                    _ESPNETV2.format('lr-input_', '180x240'), (180, 240)),
    'espnetv2-dsrl': ('DSRL-ESPNetv2 as shipped, 180x240 input -> 360x480',
                      _ESPNETV2.format('dsrl_', '180x240'), (180, 240)),
    'espnetv2-dsrl-paper': ('DSRL-ESPNetv2, paper setting (FA into both)',
                            _ESPNETV2.format('dsrl-paper_', '180x240'),
                            (180, 240)),
    'espnetv2-lr-x0.25': ('ESPNetv2, 90x120 input (bilinear to 360x480)',
                          _ESPNETV2.format('lr-input_', '90x120'), (90, 120)),
    'espnetv2-dsrl-x0.25': ('DSRL-ESPNetv2 as shipped, 90x120 -> 360x480',
                            _ESPNETV2.format('dsrl_', '90x120'), (90, 120)),
    # Not trained: the converted Cityscapes model, its 11 classifier rows
    # the means of the mapped Cityscapes rows (the fine-tuning start).
    'espnetv2-zero-shot': ('ESPNetv2 s=2.0, Cityscapes weights, no '
                           'fine-tuning (classes mapped), 360x480 input',
                           _ESPNETV2.format('', '360x480'), (360, 480)),
})
#: Rows evaluated as loaded, without training.
NOT_TRAINED = {'espnetv2-zero-shot'}
#: Rows that start from EdgeNets' weights (their load_from is the
#: checkpoint given by --edgenets-checkpoint, when given).
PRETRAINED = {k for k in MODELS if k.startswith('espnetv2-')}
#: Rows trained with an HR teacher, and the row whose run teaches them.
TEACHERS = {'dsrl-teacher': 'full'}
# Ablations of the DSRL rows (same config, one part changed with
# --cfg-options-style overrides). The shipped DSRL row is the paper setting
# with FA's gradient into the SR side only; the FA variants change one thing
# of the paper setting each.
ABLATIONS = {
    'sssr-only': ('SSSR only (no SISR, no FA)', 'dsrl', {
        'model.sisr_head': None,
        'model.fa_loss': None
    }),
    'dsrl-no-fa': ('DSRL without FA (SSSR + SISR)', 'dsrl', {
                       'model.fa_loss': None
                   }),
    'dsrl-icnet-no-fa': ('DSRL-ICNet without FA (SSSR + SISR)', 'dsrl-icnet',
                         {
                             'model.fa_loss': None
                         }),
    'dsrl-fa-w0.1': ('paper setting, FA weight 0.1 (paper: 1.0)',
                     'dsrl-paper', {
                         'model.fa_loss.loss_weight': 0.1
                     }),
    # Why FA hurts: which side its gradient should reach, what it should
    # compare, how, and when.
    'fa-to-seg': ('paper setting, FA gradient into the segmentation only '
                  '(SR detached)', 'dsrl-paper', {
                      'model.fa_loss.gradient_to': 'seg'
                  }),
    'fa-hidden': ('paper setting, FA on the SISR hidden layer (32 ch) '
                  'instead of RGB', 'dsrl-paper', {
                      'model.sisr_head.fa_features': 'hidden'
                  }),
    'fa-dot': ('paper setting, FA on un-normalised dot products '
               '(re-implementations)', 'dsrl-paper', {
                   'model.fa_loss.p': None
               }),
    'fa-sub16': ('paper setting, FA subsampled by 16 (paper: 8)',
                 'dsrl-paper', {
                     'model.fa_loss.subsample': 16
                 }),
    'fa-warmup': ('paper setting, FA off for the first 300 iterations',
                  'dsrl-paper', {
                      'model.fa_loss.warmup_iters': 300
                  }),
    # The shipped FA made ~15x cheaper (N = 23 x 30 instead of 45 x 60).
    'dsrl-sub16': ('DSRL as shipped, FA subsampled by 16 (shipped: 8)',
                   'dsrl', {
                       'model.fa_loss.subsample': 16
                   }),
    # ESPNetv2 fine-tuning choices (made on dev): the classifier's start,
    # and FA's direction in this regime.
    'espnetv2-lr-fresh-classifier': (
        'ESPNetv2 LR baseline, classifier freshly initialised (not from the '
        'mapped Cityscapes rows)', 'espnetv2-lr', {
            'load_from': 'edgenets-no-classifier://' + _EDGENETS_512x256
        }),
    'espnetv2-dsrl-no-fa': ('DSRL-ESPNetv2 without FA (SSSR + SISR)',
                            'espnetv2-dsrl', {
                                'model.fa_loss': None
                            }),
    'espnetv2-dsrl-fa-w0.1': ('DSRL-ESPNetv2 as shipped, FA weight 0.1 '
                              '(shipped: 1.0)', 'espnetv2-dsrl', {
                                  'model.fa_loss.loss_weight': 0.1
                              }),
    'espnetv2-sssr-only': ('DSRL-ESPNetv2, SSSR only (no SISR, no FA)',
                           'espnetv2-dsrl', {
                               'model.sisr_head': None,
                               'model.fa_loss': None
                           }),
    # The official release's SSSR (3x3 deconvolutions + BN + PReLU on every
    # stage) instead of the shipped linear stages that start as the resize.
    'espnetv2-dsrl-official-sssr': (
        'DSRL-ESPNetv2 with the official SSSR (deconv + BN + PReLU)',
        'espnetv2-dsrl', {
            'model.sssr_head.form': 'norm-act',
            'model.sssr_head.act_cfg': {'type': 'PReLU'},
            'model.sssr_head.plain_last': False
        }),
}


def run_folder(work_dir: str, key: str, seed: int, split: str) -> str:
    """A run's folder: ``{key}_seed{S}`` (val), ``{key}_dev_seed{S}``."""
    middle = '' if split == 'val' else f'_{split}'
    return osp.join(work_dir, f'{key}{middle}_seed{seed}')


def resolve(key: str) -> tuple:
    """``(name, config, input shape, cfg_options)`` of ``key``."""
    if key in ABLATIONS:
        name, base, options = ABLATIONS[key]
        return (name, *MODELS[base][1:], options)
    return (*MODELS[key], None)


def is_pretrained(key: str) -> bool:
    """Whether ``key``'s row fine-tunes EdgeNets' weights."""
    return (ABLATIONS[key][1] if key in ABLATIONS else key) in PRETRAINED


def pretrained_options(key: str, args) -> dict:
    """The load_from of a row that fine-tunes EdgeNets' weights, when
    --edgenets-checkpoint is given (the configs name the default place),
    through the row's scheme (``edgenets-camvid://`` unless its ablation
    names another)."""
    if not is_pretrained(key) or not args.edgenets_checkpoint:
        return {}
    options = ABLATIONS[key][2] if key in ABLATIONS else {}
    scheme = options.get('load_from', 'edgenets-camvid://').split('://')[0]
    path = osp.abspath(args.edgenets_checkpoint)
    return {'load_from': f'{scheme}://{path}'}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--data-root', help='CamVid in the SegNet layout (needed unless '
        '--from-records)')
    parser.add_argument('--work-dir', default=None)
    parser.add_argument(
        '--models',
        nargs='+',
        default=list(MODELS),
        choices=list(MODELS) + list(ABLATIONS),
        help='rows to train; ablations of DSRL: ' + ', '.join(ABLATIONS))
    parser.add_argument(
        '--seeds', type=non_negative_int, nargs='+', default=[0, 1])
    parser.add_argument(
        '--iters',
        type=positive_int,
        default=None,
        help='override the configs\' 1000 iterations')
    parser.add_argument(
        '--val-interval',
        type=positive_int,
        default=None,
        help='also validate every N iterations (learning curves; default: '
        'at the end only)')
    parser.add_argument(
        '--split',
        choices=['val', 'dev'],
        default='val',
        help='val: train on train, evaluate on val (reported runs); dev: '
        'train on train without sequence 0001TP, evaluate on it (choosing '
        'defaults)')
    parser.add_argument(
        '--teacher-work-dir',
        help='where the finished full-resolution runs that teach the '
        "teacher rows are (default: --work-dir; 'full' before them in "
        '--models trains them there first)')
    parser.add_argument(
        '--edgenets-checkpoint',
        help='EdgeNets ESPNetv2 Cityscapes .pth the espnetv2-* rows fine-tune '
        '(default: the one their configs name, under ../shared)')
    parser.add_argument('--latency-runs', type=positive_int, default=10)
    parser.add_argument(
        '--no-train',
        action='store_true',
        help='report finished runs only: seeds without one are left out of '
        'a row (and said so), rows without any are skipped')
    parser.add_argument(
        '--records',
        help='also write each run\'s record (JSON) into this folder')
    parser.add_argument(
        '--from-records',
        metavar='DIR',
        help='train nothing: regenerate the generated tables of --page from '
        'the records under DIR')
    parser.add_argument(
        '--check',
        action='store_true',
        help='with --from-records: only compare; exit 1 at the first '
        'difference')
    parser.add_argument(
        '--page',
        default=osp.join(REPO, 'configs', 'camvid', 'README.md'),
        help='the page --from-records regenerates (default: the CamVid '
        'page)')
    args = parser.parse_args()
    if args.check and not args.from_records:
        parser.error('--check needs --from-records DIR')
    if not args.from_records and not args.data_root:
        parser.error('--data-root is required (unless --from-records)')
    return args


def from_records(args) -> int:
    """Regenerate (or check) the page's generated tables; exit status."""
    from mmseg_dsrl.analysis.run_records import (
        first_difference,
        load_records,
        regenerate,
    )
    records = load_records(args.from_records)
    with open(args.page) as f:
        page = f.read()
    link_prefix = osp.relpath(REPO, osp.dirname(osp.abspath(args.page)))
    new = regenerate(page, records, link_prefix + '/')
    diff = first_difference(page, new)
    if args.check:
        if diff is not None:
            print(f'{args.page} differs from what the {len(records)} records '
                  f'under {args.from_records} give, {diff}\n'
                  'regenerate it with the same command without --check')
            return 1
        print(f'{args.page}: every generated table equals the records '
              f'({len(records)} under {args.from_records})')
        return 0
    if diff is None:
        print(f'{args.page}: already up to date')
        return 0
    with open(args.page, 'w') as f:
        f.write(new)
    print(f'{args.page}: generated tables rewritten from {len(records)} '
          'records')
    return 0


def teacher_options(key: str,
                    seed: int,
                    args,
                    work_dir: str,
                    for_record: bool = False) -> dict:
    """The cfg_options that point ``key``'s HR teacher at the finished run
    of the same seed and split (empty for rows without a teacher).

    Training gets the checkpoint's absolute path; a record (``for_record``)
    gets it relative to the working directory when it lies under it, so a
    committed record names no machine's folders.

    Raises:
        FileNotFoundError: the teacher run has not finished.
    """
    if key not in TEACHERS:
        return {}
    teacher_dir = run_folder(args.teacher_work_dir or work_dir,
                             TEACHERS[key], seed, args.split)
    path = osp.join(teacher_dir, 'metrics.json')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{key} seed {seed} is taught by the finished {TEACHERS[key]!r} '
            f'run of that seed, expected in {teacher_dir} (no metrics.json): '
            f'train it first (--models {TEACHERS[key]} {key}) or give '
            '--teacher-work-dir')
    with open(path) as f:
        checkpoint = json.load(f)['checkpoint']
    path = osp.abspath(osp.join(teacher_dir, checkpoint))
    if for_record:
        from mmseg_dsrl.analysis.run_records import portable_path
        path = portable_path(path)
    return {'model.hr_teacher.checkpoint': path}


def with_detailed_metrics(run_dir: str, metrics: dict, config: str,
                          cfg_options, data_root: str) -> dict:
    """``metrics`` with per-class and boundary IoU; a run finished before
    the configs had those metrics is evaluated again (its checkpoint with
    the current val_evaluator) and its metrics.json updated."""
    from mmseg_dsrl.analysis.configs import load_config
    from mmseg_dsrl.analysis.result_tables import DETAIL_KEYS
    if all(k in metrics for k in DETAIL_KEYS):
        return metrics
    from mmseg_dsrl.analysis.runs import evaluate_checkpoint
    cfg = load_config(config, cfg_options)
    extra = evaluate_checkpoint(cfg, osp.join(run_dir, metrics['checkpoint']),
                                osp.join(run_dir, 'eval_detailed'), data_root)
    metrics = dict(metrics, **{k: v for k, v in extra.items()
                               if k not in metrics})
    with open(osp.join(run_dir, 'metrics.json'), 'w') as f:
        json.dump(metrics, f, indent=2)
    return metrics


def write_tables(rows, work_dir: str) -> None:
    from mmseg_dsrl.analysis.result_tables import (
        detail_table,
        loss_table,
        paired_table,
        summary_table,
    )
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(rows, f, indent=2)
    lines = summary_table(rows, output='360x480')
    # FA ablations against the paper setting they change and against the
    # shipped default (same seed).
    fa_keys = [k for k, (_, base, _) in ABLATIONS.items()
               if base == 'dsrl-paper']
    lines += (detail_table(rows) + loss_table(rows) + paired_table(rows) +
              paired_table(rows, 'dsrl-paper', fa_keys + ['dsrl']) +
              paired_table(rows, 'dsrl', fa_keys +
                           ['dsrl-paper', 'dsrl-no-fa', 'sssr-only']) +
              paired_table(rows, 'icnet-lr', ['dsrl-icnet',
                                              'dsrl-icnet-no-fa']))
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


def main() -> int:
    args = parse_args()
    if args.from_records:
        return from_records(args)
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.measurement import (
        inference_complexity,
        time_inference,
    )
    from mmseg_dsrl.analysis.configs import camvid_split_options
    from mmseg_dsrl.analysis.result_tables import DETAIL_KEYS
    from mmseg_dsrl.analysis.runs import (
        evaluate_init_or_reuse,
        final_training_losses,
        finished_run,
        mean_std,
        train_or_reuse,
    )
    work_dir = args.work_dir or osp.join(REPO, 'work_dirs',
                                         time.strftime('camvid-%Y%m%d-%H%M%S'))
    os.makedirs(work_dir, exist_ok=True)
    rows = []
    for key in args.models:
        name, config, shape, cfg_options = resolve(key)
        run_options = {
            **camvid_split_options(args.split),
            **(cfg_options or {}),
            **pretrained_options(key, args)
        }
        seeds = args.seeds
        mious, times, details, losses, model = [], [], [], [], None
        if args.no_train:
            missing = [
                s for s in seeds if finished_run(
                    run_folder(work_dir, key, s, args.split),
                    osp.join(REPO, config),
                    0 if key in NOT_TRAINED else args.iters) is None
            ]
            if missing:
                print(f'== {key}: no finished run for seeds {missing}; '
                      'reported without them (--no-train)')
            seeds = [s for s in seeds if s not in missing]
            if not seeds:
                continue
        seed_options = {}
        for seed in seeds:
            run_dir = run_folder(work_dir, key, seed, args.split)
            seed_options[seed] = {
                **run_options,
                **teacher_options(key, seed, args, work_dir)
            }
            if key in NOT_TRAINED:
                metrics, model = evaluate_init_or_reuse(
                    run_dir, osp.join(REPO, config), args.data_root, seed,
                    seed_options[seed])
            else:
                metrics, model = train_or_reuse(
                    run_dir, osp.join(REPO, config), args.data_root,
                    args.iters, seed, seed_options[seed], args.val_interval)
            metrics = with_detailed_metrics(run_dir, metrics,
                                            osp.join(REPO, config),
                                            seed_options[seed],
                                            args.data_root)
            mious.append(metrics['mIoU'])
            times.append(metrics['train_s'])
            details.append({k: metrics.get(k) for k in DETAIL_KEYS})
            losses.append(final_training_losses(run_dir))
        flops = inference_complexity(model, (360, 480))['flops']
        lat = time_inference(
            model, (360, 480),
            warmup=2,
            runs=args.latency_runs,
            mode='predict')
        stats = mean_std(mious)
        if args.records:
            from mmseg_dsrl.analysis.run_records import (
                record_from_run,
                write_record,
            )
            for seed in seeds:
                run_dir = run_folder(work_dir, key, seed, args.split)
                with open(osp.join(run_dir, 'metrics.json')) as f:
                    run_metrics = json.load(f)
                options = {
                    **(cfg_options or {}),
                    **teacher_options(
                        key, seed, args, work_dir, for_record=True)
                } or None
                write_record(
                    record_from_run(
                        run_dir, key, name, config, options, run_metrics,
                        f'{shape[0]}x{shape[1]}', split=args.split,
                        gflops=flops / 1e9,
                        latency_ms=lat['median'] * 1e3), args.records)
        rows.append(
            dict(
                key=key,
                name=name,
                config=config,
                cfg_options=cfg_options,
                input=f'{shape[0]}x{shape[1]}',
                gflops=flops / 1e9,
                latency_ms=lat['median'] * 1e3,
                miou_mean=stats['mean'],
                miou_std=stats['std'],
                seeds=stats['n'],
                mious=mious,
                seed_list=list(seeds),
                details=details,
                final_losses=losses,
                train_min=sum(times) / len(times) / 60))
        write_tables(rows, work_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
