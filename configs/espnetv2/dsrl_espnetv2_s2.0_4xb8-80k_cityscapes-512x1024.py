# DSRL as in the paper's headline table: ESPNetv2 s=2.0 sees 512x256 (W x H)
# and predicts 1024x512, starting from EdgeNets' 512x256 model. SSSR: two
# transposed convolutions in place of the final x2 resize of the scores
# (and the x2 to HR); SISR from encoder level 1.
_base_ = [
    './lr-input_espnetv2_s2.0_4xb8-80k_cityscapes-512x1024.py',
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
