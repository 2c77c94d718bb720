# DSRL on the demo dataset: the network sees 128x256 and predicts 256x512.
_base_ = [
    './lr-input_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py',
    '../_base_/dsrl/fa_loss.py'
]
model = dict(
    type='DSRLEncoderDecoder',
    sssr_head=dict(type='SSSRHead', upsample_factor=4, variant='logits'),
    sisr_head=dict(
        type='SISRHead',
        in_index=0,
        loss=dict(type='PixelMSELoss', loss_weight=0.1)),
    # FA into the SR side (measured best, see fa_loss.py); paper setting:
    # dsrl_fa_loss_paper; no FA: None
    fa_loss={{_base_.dsrl_fa_loss}})
# Validation also reports the SISR branch's PSNR / SSIM and saves a few
# input | SISR | HR | prediction strips (the hook runs SISR during validation
# only; testing and deployment do not).
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='SISRQualityMetric')
]
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
custom_hooks = [
    dict(type='SISRVisualizationHook', num_images=4),
    dict(type='TorchRNGStateHook')
]
