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
            probe_size=(64, 96),  # seg_batch()'s default HR size
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


# ----------------------------------------------------------------------
# Real data beside the checkout (benchmarks and parity checks only)
# ----------------------------------------------------------------------
SHARED = osp.join(osp.dirname(REPO), 'shared')
EDGENETS = osp.join(SHARED, 'pretrained', 'edgenets')
EDGENETS_CHECKPOINTS = {
    '512x256': osp.join(EDGENETS, 'espnetv2_s_2.0_city_512x256.pth'),
    '1024x512': osp.join(EDGENETS, 'espnetv2_s_2.0_city_1024x512.pth'),
}
EDGENETS_REFERENCE = osp.join(EDGENETS, 'espnetv2_city_reference.pt')


def edgenets_state_dict(widths=(16, 32, 64, 128), classes=6, pyramid=3,
                        decoder=(64, 48, 32), num_blocks=(3, 7), seed=0):
    """A random state_dict with the keys and shapes of EdgeNets'
    ``ESPNetv2Segmentation`` (written from its module structure: espnet_utils
    CBR / CB / BR with conv, bn, act; cnn_utils' Sequential CBR / BR with
    0, 1, 2; K = 4 branches; 5 pyramid scales)."""
    import math
    from collections import OrderedDict
    g = torch.Generator().manual_seed(seed)
    sd = OrderedDict()

    def t(*shape):
        return torch.randn(shape, generator=g)

    def bn(prefix, c):
        sd[f'{prefix}.weight'] = t(c).abs() + 0.5
        sd[f'{prefix}.bias'] = t(c)
        sd[f'{prefix}.running_mean'] = t(c) * 0.1
        sd[f'{prefix}.running_var'] = t(c).abs() + 0.5
        sd[f'{prefix}.num_batches_tracked'] = torch.tensor(7)

    def cbr(prefix, cin, cout, k, groups=1, act=True, names=('conv', 'bn',
                                                             'act')):
        sd[f'{prefix}.{names[0]}.weight'] = t(cout, cin // groups, k, k)
        bn(f'{prefix}.{names[1]}', cout)
        if act:
            sd[f'{prefix}.{names[2]}.weight'] = t(cout).abs() * 0.25

    def eesp(prefix, cin, cout):
        n = cout // 4
        cbr(f'{prefix}.proj_1x1', cin, n, 1, groups=4)
        for i in range(4):
            sd[f'{prefix}.spp_dw.{i}.conv.weight'] = t(n, 1, 3, 3)
        cbr(f'{prefix}.conv_1x1_exp', cout, cout, 1, groups=4, act=False)
        bn(f'{prefix}.br_after_cat.bn', cout)
        sd[f'{prefix}.br_after_cat.act.weight'] = t(cout).abs() * 0.25
        sd[f'{prefix}.module_act.weight'] = t(cout).abs() * 0.25

    def down(prefix, cin, cout):
        eesp(f'{prefix}.eesp', cin, cout - cin)
        cbr(f'{prefix}.inp_reinf.0', 3, 3, 3)
        cbr(f'{prefix}.inp_reinf.1', 3, cout, 1, act=False)
        sd[f'{prefix}.act.weight'] = t(cout).abs() * 0.25

    c1, c2, c3, c4 = widths
    cbr('base_net.level1', 3, c1, 3)
    down('base_net.level2_0', c1, c2)
    down('base_net.level3_0', c2, c3)
    for i in range(num_blocks[0]):
        eesp(f'base_net.level3.{i}', c3, c3)
    down('base_net.level4_0', c3, c4)
    for i in range(num_blocks[1]):
        eesp(f'base_net.level4.{i}', c4, c4)
    seq = ('0', '1', '2')
    for level, (cin, cout) in enumerate(
            zip((c4, *decoder), (*decoder, classes)), 1):
        p = f'bu_dec_l{level}'
        for i in range(5):
            sd[f'{p}.stages.{i}.weight'] = t(pyramid, 1, 3, 3)
        cbr(f'{p}.projection_layer.cbr', cin, pyramid, 1, names=seq)
        bn(f'{p}.merge_layer.0.br.0', 5 * pyramid)
        sd[f'{p}.merge_layer.0.br.1.weight'] = t(5 * pyramid).abs() * 0.25
        cbr(f'{p}.merge_layer.2.cbr', 5 * pyramid, pyramid, 3,
            groups=pyramid, names=seq)
        sd[f'{p}.merge_layer.3.weight'] = t(cout, pyramid, 1, 1)
        if level == 4:
            sd[f'{p}.merge_layer.3.bias'] = t(cout)
        else:
            bn(f'{p}.br.br.0', cout)
            sd[f'{p}.br.br.1.weight'] = t(cout).abs() * 0.25
    for level, (cin, cout) in zip((2, 3, 4), zip((c3, c2, c1), decoder)):
        p = f'merge_enc_dec_l{level}'
        sd[f'{p}.wt_layer.1.weight'] = t(cout, cin, 1, 1)
        cbr(f'{p}.expansion_layer.cbr', cin, cout, 3,
            groups=math.gcd(cin, cout), names=seq)
        bn(f'bu_br_l{level}.0', cout)
        sd[f'bu_br_l{level}.1.weight'] = t(cout).abs() * 0.25
    return sd
