# Shared pieces of the DSRL / LR-baseline Cityscapes configs: the network
# sees 512x1024 (input_scale=0.5) and predicts 1024x2048.
#
# FA: `dsrl_fa_loss` (this project's default) and `dsrl_fa_loss_paper`, from
# ./fa_loss.py.
#
# Only names that no stock mmseg config defines live here, so this file can
# be a second `_base_` next to any stock config; leaves pull the values in
# with {{_base_.NAME}}.
_base_ = ['./fa_loss.py']
hr_crop_size = (1024, 2048)
hr_data_preprocessor = dict(size=hr_crop_size)
hr_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(2048, 1024),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=hr_crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
# SSSR: two x2 deconvolution stages on the class scores (official release),
# linear and starting as the bilinear resize they replace.
dsrl_sssr_head = dict(
    type='SSSRHead',
    upsample_factor=4,
    variant='logits',
    norm_cfg=dict(type='SyncBN', requires_grad=True))
# SISR: ESPCN; MSE on the normalised HR image with w_sr = 0.1.
dsrl_sisr_loss = dict(type='PixelMSELoss', loss_weight=0.1)
# Resume continues from the state an uninterrupted run has at that
# iteration, torch's random state included (saved in every checkpoint; see
# TorchRNGStateHook).
custom_hooks = [dict(type='TorchRNGStateHook')]
