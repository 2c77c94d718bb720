# DSRL: the network sees 180x240 and predicts the native 360x480. SSSR
# replaces the final x2 resize of the scores (at 1/2 of the network input)
# and the resize to the image by two transposed convolutions (x4), starting
# as that resize; SISR from encoder level 1 (1/2 of the input, x4).
_base_ = [
    './lr-input_espnetv2_s2.0_1xb4-1000i_camvid-180x240.py',
    '../_base_/dsrl/fa_loss.py'
]
model = dict(
    type='DSRLEncoderDecoder',
    sssr_head=dict(type='SSSRHead', upsample_factor=4, variant='logits'),
    sisr_head=dict(
        type='SISRHead',
        in_index=0,
        loss=dict(type='PixelMSELoss', loss_weight=0.1)),
    fa_loss={{_base_.dsrl_fa_loss}})
