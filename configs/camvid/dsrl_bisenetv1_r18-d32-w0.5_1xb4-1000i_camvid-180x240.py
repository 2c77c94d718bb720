# DSRL: the network sees 180x240 and predicts the native 360x480.
_base_ = [
    './bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-360x480.py',
    '../_base_/dsrl/fa_loss.py'
]
model = dict(
    type='DSRLEncoderDecoder',
    input_scale=0.5,
    sssr_head=dict(type='SSSRHead', upsample_factor=4, variant='logits'),
    sisr_head=dict(
        type='SISRHead',
        in_index=0,
        loss=dict(type='PixelMSELoss', loss_weight=0.1)),
    # FA into the SR side (measured best, see fa_loss.py); paper setting:
    # dsrl_fa_loss_paper; no FA: None
    fa_loss={{_base_.dsrl_fa_loss}})
