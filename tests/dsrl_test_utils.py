"""Test helpers: tiny real mmseg model configs and synthetic batches."""
import copy
import os.path as osp

import torch
from mmengine.config import ConfigDict

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_script(path: str, argv) -> int:
    """Run a command-line script in this process as ``python path *argv``
    would (``runpy``, ``__name__ == '__main__'``) and return its exit
    status. Tools are run as programs, never imported: what a test needs
    from inside a tool lives in the package."""
    import runpy
    import sys
    path = path if osp.isabs(path) else osp.join(REPO, path)
    saved = sys.argv
    sys.argv = [path, *map(str, argv)]
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        return 1  # sys.exit('message'), as the interpreter reports it
    finally:
        sys.argv = saved
    return 0

# A small ResNetV1c (widths 16..128, dilated like mmseg's d8 models: all
# outputs from stage 2 on are at stride 8).
TINY_BACKBONE = dict(
    type='ResNetV1c',
    depth=18,
    stem_channels=16,
    base_channels=16,
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    dilations=(1, 1, 2, 4),
    strides=(1, 2, 1, 1),
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    style='pytorch',
    contract_dilation=True)
NUM_CLASSES = 5


def tiny_head(**kwargs):
    cfg = dict(
        type='FCNHead',
        in_channels=128,
        in_index=3,
        channels=32,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.0,
        num_classes=NUM_CLASSES,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))
    cfg.update(kwargs)
    return cfg


def tiny_segmentor_cfg(type='DSRLEncoderDecoder', **kwargs):
    cfg = dict(
        type=type,
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255),
        backbone=copy.deepcopy(TINY_BACKBONE),
        decode_head=tiny_head(),
        auxiliary_head=tiny_head(
            in_channels=64,
            in_index=2,
            channels=16,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))
    if type == 'DSRLEncoderDecoder':
        cfg.update(
            sssr_head=dict(upsample_factor=4),
            sisr_head=dict(type='SISRHead', in_channels=128, in_index=-1),
            fa_loss=dict(type='FeatureAffinityLoss', subsample=4))
    cfg.update(kwargs)
    # As loaded from a config file (mmseg reads test_cfg.mode etc.).
    return ConfigDict(cfg)


def seg_batch(batch=2,
              h=64,
              w=96,
              num_classes=NUM_CLASSES,
              seed=0,
              ignore_frac=0.1):
    """Normalised HR images and SegDataSamples with HR labels."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, 3, h, w, generator=g)
    samples = []
    for _ in range(batch):
        label = torch.randint(0, num_classes, (1, h, w), generator=g)
        label[torch.rand(1, h, w, generator=g) < ignore_frac] = 255
        s = SegDataSample(
            metainfo=dict(
                img_shape=(h, w),
                ori_shape=(h, w),
                pad_shape=(h, w),
                padding_size=[0, 0, 0, 0]))
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    return inputs, samples


def assert_autocast_loss_close(model, inputs, samples, dtype, rtol):
    """One loss step under autocast (as ``--amp`` runs it) against float32:
    the DSRL terms stay close, the FA term stays float32, and every
    parameter gets a finite gradient."""
    full = model.loss(inputs, samples)
    with torch.autocast(inputs.device.type, dtype=dtype):
        mixed = model.loss(inputs, samples)
    assert mixed['fa.loss_fa'].dtype == torch.float32
    for name in ('decode.loss_ce', 'sisr.loss_sr', 'fa.loss_fa'):
        torch.testing.assert_close(
            mixed[name].float(), full[name], rtol=rtol, atol=1e-3)
    sum(v for k, v in mixed.items() if 'loss' in k).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


# ----------------------------------------------------------------------
# Mixed precision on the shipped CamVid configs (CPU and CUDA tests)
# ----------------------------------------------------------------------
_CAMVID = 'bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid'
CAMVID_CONFIGS = {
    'dsrl': f'dsrl_{_CAMVID}-180x240.py',
    'dsrl-paper': f'dsrl-paper_{_CAMVID}-180x240.py',
    'lr-input': f'lr-input_{_CAMVID}-180x240.py',
    'icnet': 'icnet-cascade_r18-d8-w0.5_1xb4-1000i_camvid-360x480.py',
    'dsrl-icnet': 'dsrl_icnet-cascade_r18-d8-w0.5_1xb4-1000i_camvid-'
    '180x240.py',
}
AMP_DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16}
# |mixed / fp32 - 1| allowed per loss term. Measured on the 2-core CPU
# (seed-0 random init, camvid_batch()): at most 6e-5 under fp16 and 7.3e-4
# under bf16 over every term of the five configs. The bounds leave room for
# other CPUs' and GPUs' kernels and stay far below what the faults they
# guard against do (a term of 0, inf or NaN).
AMP_RTOL = {'fp16': 0.005, 'bf16': 0.01}


def camvid_batch(batch=2, size=(360, 480), num_classes=11, seed=0):
    """A CamVid-sized training batch as the dataloader gives it (uint8
    images), labels with 5 % void (255), as CamVid has."""
    from mmseg_dsrl.analysis.zoo_check import synthetic_batch
    data = synthetic_batch(num_classes, size, batch, seed)
    g = torch.Generator().manual_seed(seed)
    for sample in data['data_samples']:
        label = sample.gt_sem_seg.data
        label[torch.rand(label.shape, generator=g) < 0.05] = 255
    return data


def build_without_dropout(name, device='cpu'):
    """A shipped CamVid config's model (random init, seed 0) in train mode
    with dropout off, so that two forward passes differ by their precision
    alone."""
    from mmseg.registry import MODELS

    from mmseg_dsrl.analysis.configs import load_config
    cfg = load_config(osp.join(REPO, 'configs', 'camvid',
                               CAMVID_CONFIGS[name]))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    for m in model.modules():
        if isinstance(m, (torch.nn.Dropout, torch.nn.Dropout2d)):
            m.p = 0.0
    return model.to(device).train()


def losses_of(model, data, precision=None):
    """``model.loss`` on a dataloader batch, in float32 or under autocast
    (``precision`` 'fp16' / 'bf16') on the model's device."""
    data = model.data_preprocessor(copy.deepcopy(data), True)
    if precision is None:
        return model.loss(**data)
    device = next(model.parameters()).device.type
    with torch.autocast(device, dtype=AMP_DTYPES[precision]):
        return model.loss(**data)


def assert_losses_close(mixed, reference, rtol):
    """Same loss terms; each float32, finite, non-zero and within ``rtol``
    (relative) of its float32 value."""
    keys = [k for k in reference if 'loss' in k]
    assert keys and set(mixed) == set(reference)
    for key in keys:
        value, ref = mixed[key], reference[key]
        assert value.dtype == torch.float32, (key, value.dtype)
        assert torch.isfinite(value) and value != 0, (key, value.item())
        assert abs(value.item() / ref.item() - 1) < rtol, (
            key, value.item(), ref.item())


def assert_finite_gradients(model):
    """Every trainable parameter has a finite gradient, and not all of them
    are zero (the low precision did not flush them away)."""
    trainable = [(n, p) for n, p in model.named_parameters()
                 if p.requires_grad]
    assert trainable
    for n, p in trainable:
        assert p.grad is not None, f'{n} got no gradient'
        assert torch.isfinite(p.grad).all(), f'{n} has a non-finite grad'
    assert sum(p.grad.abs().sum() for _, p in trainable) > 0
