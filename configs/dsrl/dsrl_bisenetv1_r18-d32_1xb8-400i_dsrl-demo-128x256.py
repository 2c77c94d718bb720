# DSRL on the demo dataset: the network sees 128x256 and predicts 256x512.
_base_ = ['./lr-input_bisenetv1_r18-d32_1xb8-400i_dsrl-demo-128x256.py']
model = dict(
    type='DSRLEncoderDecoder',
    sssr_head=dict(type='SSSRHead', upsample_factor=4, variant='logits'),
    sisr_head=dict(type='SISRHead', in_channels=256, in_index=0,
                   loss=dict(type='PixelMSELoss', loss_weight=0.1)),
    fa_loss=dict(type='FeatureAffinityLoss', subsample=8, loss_weight=1.0))
