# DSRL on the paper's ICNet (R18 w0.5): the cascade sees 180x240 (its
# branches at 1, 1/2 and 1/4 of that) and predicts 360x480. SSSR upsamples
# the 1/4 output x4, the guidance heads stay auxiliary heads, SISR taps the
# fused 1/8 features (in_index=2).
_base_ = [
    './icnet-cascade_r18-d8-w0.5_1xb4-1000i_camvid-360x480.py',
    '../_base_/dsrl/fa_loss.py'
]
model = dict(
    type='DSRLEncoderDecoder',
    input_scale=0.5,
    sssr_head=dict(type='SSSRHead', upsample_factor=4, variant='logits'),
    sisr_head=dict(
        type='SISRHead',
        in_index=2,
        loss=dict(type='PixelMSELoss', loss_weight=0.1)),
    # FA into the SR side (measured best, see fa_loss.py); paper setting:
    # dsrl_fa_loss_paper; no FA: None
    fa_loss={{_base_.dsrl_fa_loss}})
