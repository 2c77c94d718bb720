# DSRL at input_scale 0.25: 90x120 in, 360x480 out (SSSR x8 from the
# scores at 1/2 of the network input; SISR from level 1, x8).
_base_ = [
    './lr-input_espnetv2_s2.0_1xb4-1000i_camvid-90x120.py',
    '../_base_/dsrl/fa_loss.py'
]
model = dict(
    type='DSRLEncoderDecoder',
    sssr_head=dict(type='SSSRHead', upsample_factor=8, variant='logits'),
    sisr_head=dict(
        type='SISRHead',
        in_index=0,
        loss=dict(type='PixelMSELoss', loss_weight=0.1)),
    fa_loss={{_base_.dsrl_fa_loss}})
