# DSRL on the demo dataset: the network sees 128x256 and predicts 256x512.
_base_ = ['./lr-input_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py']
model = dict(
    type='DSRLEncoderDecoder',
    sssr_head=dict(type='SSSRHead', upsample_factor=4, variant='logits'),
    sisr_head=dict(
        type='SISRHead',
        in_index=0,
        loss=dict(type='PixelMSELoss', loss_weight=0.1)),
    fa_loss=dict(type='FeatureAffinityLoss', subsample=8, loss_weight=1.0))
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
