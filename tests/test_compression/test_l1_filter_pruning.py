import hashlib
import os
import os.path as osp

import pytest
import torch
from dsrl_icnet_utils import NUM_CLASSES, tiny_icnet_cfg
from dsrl_test_utils import REPO, run_script, seg_batch, tiny_segmentor_cfg
from mmengine.runner import save_checkpoint
from mmseg.registry import MODELS

from mmseg_dsrl.compression import prune_and_finetune, prune_filters_l1

pytest.importorskip('torch_pruning')


def _model():
    torch.manual_seed(0)
    model = MODELS.build(tiny_icnet_cfg(width=0.5))
    model.init_weights()
    return model


def test_pruned_model_runs_in_every_mode_with_fewer_filters():
    model = _model()
    n0 = sum(p.numel() for p in model.parameters())
    prune_filters_l1(model, 0.5, (1, 3, 64, 96))
    n1 = sum(p.numel() for p in model.parameters())
    assert n1 < 0.4 * n0
    assert model.backbone.sub1[0].conv.out_channels == 8  # 16 -> 8
    inputs, samples = seg_batch(h=64, w=96, num_classes=NUM_CLASSES)
    losses = model.loss(inputs, samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    model.eval()
    with torch.no_grad():
        assert model(inputs, mode='tensor').shape == (2, NUM_CLASSES, 16, 24)
        out = model.predict(inputs, samples)
    assert out[0].pred_sem_seg.shape == (64, 96)
    # Classifiers keep one output per class.
    assert model.decode_head.conv_seg.out_channels == NUM_CLASSES


def _dsrl_icnet_cfg():
    cfg = tiny_icnet_cfg(width=0.5)
    cfg.type = 'DSRLEncoderDecoder'
    cfg.test_cfg = dict(mode='whole')
    cfg.update(
        input_scale=0.5,
        probe_size=(64, 96),
        sssr_head=dict(upsample_factor=4),
        sisr_head=dict(type='SISRHead', in_index=2),
        fa_loss=dict(type='FeatureAffinityLoss', subsample=4))
    return cfg


@pytest.mark.parametrize('gradient_to', ['sr', 'both'])
@pytest.mark.parametrize('host', ['fcn', 'icnet'])
def test_dsrl_with_fa_prunes_then_finetunes(host, gradient_to):
    """A DSRL model with every training-only part (SISR head, FA transform)
    pruned one step and fine-tuned one iteration: fewer filters, the
    task-fixed widths kept, every loss finite and falling parameters
    updated."""
    cfg = tiny_segmentor_cfg() if host == 'fcn' else _dsrl_icnet_cfg()
    cfg.fa_loss.gradient_to = gradient_to
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    n0 = sum(p.numel() for p in model.parameters())
    prune_filters_l1(model, 0.5, (1, 3, 64, 96))
    assert sum(p.numel() for p in model.parameters()) < 0.5 * n0
    sssr = model.decode_head
    assert sssr.fa_transform.conv.out_channels == sssr.out_channels
    assert model.sisr_head.reconstruct[-2].out_channels == 3 * (
        model.sisr_head.upscale_factor**2)
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01)
    inputs, samples = seg_batch(h=64, w=96, num_classes=5)
    losses = model.loss(inputs, samples)
    assert {'decode.' + sssr.head.loss_decode.loss_name, 'sisr.loss_sr',
            'fa.loss_fa'} <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    optimizer.zero_grad()
    total.backward()
    stem = next(p for p in model.backbone.parameters() if p.requires_grad)
    before = stem.detach().clone()
    optimizer.step()
    assert not torch.equal(stem, before)
    model.eval()
    with torch.no_grad():
        assert model.predict(inputs, samples)[0].pred_sem_seg.shape == (64,
                                                                         96)


def test_smallest_l1_filters_are_removed():
    model = _model()
    conv = model.backbone.sub1[0].conv
    before = conv.weight.detach().clone()
    norms = before.abs().sum(dim=(1, 2, 3))
    keep = norms.argsort(descending=True)[:8].sort().values
    prune_filters_l1(model, 0.5, (1, 3, 64, 96))
    torch.testing.assert_close(conv.weight, before[keep])
    # The consumer lost the matching input channels.
    assert model.backbone.sub1[1].conv.in_channels == 8


def test_written_checkpoint_reproduces_the_pruned_model(tmp_path):
    model = _model()
    prune_filters_l1(model, 0.5, (1, 3, 64, 96))
    path = str(tmp_path / 'pruned.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), path)
    rebuilt = MODELS.build(
        dict(
            type='PrunedSegmentor',
            model=tiny_icnet_cfg(width=0.5),
            shapes_from=path))
    from mmengine.runner import load_checkpoint
    load_checkpoint(rebuilt, path, map_location='cpu', strict=True)
    inputs, _ = seg_batch(h=64, w=96)
    model.eval(), rebuilt.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            rebuilt(inputs, mode='tensor'),
            model(inputs, mode='tensor'),
            rtol=0,
            atol=0)


def test_reshape_rejects_unresizable_mismatch():
    from mmseg_dsrl.compression import reshape_to_state_dict
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.PReLU(4))
    state = dict(model.state_dict())
    state['0.weight'] = torch.zeros(2, 3, 1, 1)
    state['1.weight'] = torch.zeros(2)
    with pytest.raises(ValueError, match=r'1.weight: shape \(2,\) .* \(4,\)'):
        reshape_to_state_dict(model, state)


# ---------------------------------------------------------------------------
# prune_and_finetune and its command line, tools/compression/prune.py
# ---------------------------------------------------------------------------
ICNET_DEMO = osp.join(REPO, 'configs', 'icnet',
                      'icnet-cascade_r18-d8_1xb4-400i_dsrl-demo-256x512.py')


def _sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope='module')
def icnet_checkpoint(tmp_path_factory):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')  # module fixtures run before autouse ones
    cfg = Config.fromfile(ICNET_DEMO)
    cfg.merge_from_dict(dict(_small_opts_dict()))
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'icnet.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), path)
    return path


SMALL = [
    'model.backbone.width_multiplier=0.25', 'model.decode_head.in_channels=32',
    'model.auxiliary_head.0.in_channels=64',
    'model.auxiliary_head.1.in_channels=32'
]


def _small_opts_dict():
    return [(k, float(v) if '.' in v else int(v))
            for k, v in (o.split('=') for o in SMALL)]


def _icnet_cfg(small=True):
    from mmengine.config import Config
    cfg = Config.fromfile(ICNET_DEMO)
    if small:
        cfg.merge_from_dict(dict(_small_opts_dict()))
    return cfg


@pytest.mark.parametrize('steps, match', [
    ([1.5], r'keep ratios must be in \(0, 1\], got 1.5'),
    ([0], r'keep ratios must be in \(0, 1\], got 0'),
    ([], 'at least one keep ratio'),
    ([0.5, 0.75], 'strictly decreasing'),
])
def test_pruning_rejects_bad_ratios_before_work(tmp_path, icnet_checkpoint,
                                                steps, match):
    digest = _sha(icnet_checkpoint)
    work = str(tmp_path / 'out')
    with pytest.raises(ValueError, match=match):
        prune_and_finetune(_icnet_cfg(), icnet_checkpoint, work, steps=steps)
    assert not osp.exists(work)
    assert _sha(icnet_checkpoint) == digest


def test_pruning_rejects_checkpoint_of_other_architecture(
        tmp_path, icnet_checkpoint):
    work = str(tmp_path / 'out')
    with pytest.raises(ValueError, match='does not belong to this config'):
        # width 1.0 config, 0.25 checkpoint
        prune_and_finetune(_icnet_cfg(small=False), icnet_checkpoint, work)
    assert not osp.exists(work) or not os.listdir(work)


def test_pruning_refuses_non_empty_work_dir(tmp_path, icnet_checkpoint):
    (tmp_path / 'old.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='not empty'):
        prune_and_finetune(_icnet_cfg(), icnet_checkpoint, str(tmp_path))
    assert (tmp_path / 'old.txt').read_text() == 'keep me'


@pytest.mark.integration
def test_prune_tool_two_steps_end_to_end(tmp_path, icnet_checkpoint,
                                         demo_data_root):
    import json

    from mmseg.apis import init_model
    digest = _sha(icnet_checkpoint)
    work = str(tmp_path / 'pruned')
    data = [
        f'{k}.dataset.data_root={demo_data_root}'
        for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    # As a user runs it: the command line over prune_and_finetune.
    assert run_script('tools/compression/prune.py', [
        ICNET_DEMO, icnet_checkpoint, '--steps', '0.75', '0.5',
        '--finetune-iters', '2', '--work-dir', work, '--trace-shape', '64',
        '128', '--cfg-options', *SMALL,
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', *data
    ]) == 0
    with open(osp.join(work, 'summary.json')) as f:
        summary = json.load(f)
    assert [r['keep'] for r in summary] == [1.0, 0.75, 0.5]
    assert summary[2]['params'] < summary[1]['params'] < summary[0]['params']
    assert all('mIoU' in r for r in summary[1:])
    assert _sha(icnet_checkpoint) == digest
    # mmseg's init_model loads the written config + fine-tuned checkpoint.
    model = init_model(summary[2]['config'], summary[2]['checkpoint'],
                       device='cpu')
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 128), mode='tensor')
    assert out.shape[1] == 7


def test_pruning_defaults_are_the_measured_recipe():
    """One shot to 0.5, 60 % of the training schedule, full LR (CamVid
    measurements on configs/icnet/README.md); the tool passes only what
    its user gives, so these are its defaults too."""
    import inspect

    from mmengine.config import Config

    from mmseg_dsrl.compression import default_finetune_iters
    defaults = inspect.signature(prune_and_finetune).parameters
    assert tuple(defaults['steps'].default) == (0.5, )
    assert defaults['finetune_lr_scale'].default == 1.0
    assert defaults['finetune_iters'].default is None
    cfg = Config(dict(train_cfg=dict(max_iters=1000)))
    assert default_finetune_iters(cfg, 1) == 600
    assert default_finetune_iters(cfg, 2) == 300
    with pytest.raises(ValueError, match='no train_cfg.max_iters'):
        default_finetune_iters(Config(dict()), 1)
