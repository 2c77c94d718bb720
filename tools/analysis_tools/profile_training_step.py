"""Where a DSRL training step spends its time, against its LR baseline.

Times ``model.train_step`` (data preprocessing, forward, losses, backward,
optimizer step: what mmengine's loop runs per iteration, without data
loading) on random images and labels of the config's crop and batch size,
for:

* the LR baseline (--baseline),
* DSRL (the config), and DSRL with parts switched off: without FA, and
  without FA and SISR (SSSR only) -- the differences between neighbouring
  rows are what FA, SISR and SSSR cost, forward and backward together;

all round-robin in one process (--rounds rounds, median), so machine drift
hits every variant alike. With --profile it also prints torch.profiler's
forward time per module group (backbone, decode head and its loss,
auxiliary heads, SISR head and its loss, FA loss) and the top operators of
one DSRL step.

Example (C=configs/camvid, S=bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid):
    python tools/analysis_tools/profile_training_step.py \\
        $C/dsrl_$S-180x240.py --baseline $C/lr-input_$S-180x240.py \\
        --extra $C/dsrl-paper_$S-180x240.py --rounds 30 --profile
"""
import argparse
import copy
import json
import os
import statistics
import time
from contextlib import contextmanager

import torch

from mmseg_dsrl.utils.cli import positive_int

GROUPS = ('backbone', 'decode_head', 'auxiliary_head', 'sisr_head',
          'fa_loss')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='a DSRL config')
    parser.add_argument('--baseline', required=True,
                        help='its LR-input baseline config')
    parser.add_argument(
        '--extra', nargs='+', default=[],
        help='more configs timed in the same rounds (e.g. a dsrl-paper '
        'config next to the shipped one), labelled by file name')
    parser.add_argument('--rounds', type=positive_int, default=10)
    parser.add_argument('--warmup', type=positive_int, default=2)
    parser.add_argument('--batch-size', type=positive_int, default=None,
                        help='default: the config\'s train batch size')
    parser.add_argument('--profile', action='store_true')
    parser.add_argument('--out', default=None, help='JSON file of results')
    return parser.parse_args(argv)


def build(cfg):
    """Model (train mode) and optimizer wrapper as the Runner builds them."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from mmseg_dsrl.utils.config_utils import use_bn_without_cuda
    init_default_scope('mmseg')
    use_bn_without_cuda(cfg)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    return model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))


def random_batch(cfg, batch_size: int, seed: int = 0) -> dict:
    """A train batch (uint8 images + labels) of the config's crop size."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    size = cfg.model.data_preprocessor.get('size') or cfg.get('crop_size')
    if size is None:
        raise ValueError('the config names no crop size (model.'
                         'data_preprocessor.size or crop_size)')
    g = torch.Generator().manual_seed(seed)
    num_classes = cfg.model.decode_head.num_classes
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(
            torch.randint(0, 256, (3, *size), dtype=torch.uint8, generator=g))
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, *size), generator=g))
        sample.set_metainfo(dict(img_shape=tuple(size), ori_shape=tuple(size),
                                 pad_shape=tuple(size)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@contextmanager
def labelled_groups(model):
    """torch.profiler ranges around each module group's ``forward`` and
    ``loss`` (heads compute their losses in ``loss``, which calls
    ``forward`` directly, so module hooks would miss them); nested calls of
    one group are counted once."""
    patched = []
    for name in GROUPS:
        module = getattr(model, name, None)
        if module is None:
            continue
        depth = [0]
        for method in ('forward', 'loss'):
            original = getattr(module, method, None)
            if original is None:
                continue

            def wrapped(*a, _original=original, _name=name, _depth=depth,
                        **k):
                if _depth[0]:
                    return _original(*a, **k)
                _depth[0] += 1
                try:
                    with torch.profiler.record_function(f'group::{_name}'):
                        return _original(*a, **k)
                finally:
                    _depth[0] -= 1

            had = method in module.__dict__
            patched.append((module, method, had, module.__dict__.get(method)))
            setattr(module, method, wrapped)
    try:
        yield
    finally:
        for module, method, had, old in reversed(patched):
            if had:
                setattr(module, method, old)
            else:
                delattr(module, method)


def main(argv=None) -> None:
    args = parse_args(argv)
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.utils.config_utils import load_config
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
    for path in args.extra:
        name = os.path.splitext(os.path.basename(path))[0].split('_')[0]
        if name in variants:
            raise ValueError(f'--extra {path}: the label {name!r} is taken')
        variants[name] = load_config(path)
    batch = args.batch_size or dsrl_cfg.train_dataloader.batch_size
    torch.manual_seed(0)
    built = {k: build(cfg) for k, cfg in variants.items()}
    data = {k: random_batch(cfg, batch) for k, cfg in variants.items()}
    times = {k: [] for k in variants}

    def step(key):
        model, optim = built[key]
        return model.train_step(data[key], optim)

    for _ in range(args.warmup):
        for key in variants:
            step(key)
    for _ in range(args.rounds):
        for key in variants:
            start = time.perf_counter()
            step(key)
            times[key].append(time.perf_counter() - start)
    base = statistics.median(times['LR baseline'])
    print(f'train_step on random data, batch {batch}, '
          f'{torch.get_num_threads()} threads, median of {args.rounds} '
          f'round-robin rounds')
    print(f'{"variant":>20s} {"ms/iter":>9s} {"x LR":>6s} {"added ms":>9s}')
    rows, previous = [], None
    for key, ts in times.items():
        median = statistics.median(ts) * 1e3
        added = '' if previous is None else f'{median - previous:+9.1f}'
        print(f'{key:>20s} {median:9.1f} {median / base / 1e3:6.3f} '
              f'{added:>9s}')
        rows.append(dict(variant=key, ms=median, ratio=median / base / 1e3))
        previous = median
    result = dict(batch=batch, threads=torch.get_num_threads(), rows=rows)
    if args.profile:
        result['profile'] = profile(built['DSRL (config)'],
                                    data['DSRL (config)'])
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


def profile(built, data) -> dict:
    """Forward ms per module group and the top operators of one step."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
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
