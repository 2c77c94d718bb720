# DSRL DeepLabV3+-R50 with the paper's FA term (cosine affinity, subsampling
# 8, w_fa 1.0): the project's DSRL config plus the paper's FA.
_base_ = ['./dsrl_deeplabv3plus_r50-d8_4xb2-80k_cityscapes-512x1024.py']
model = dict(
    fa_loss=dict(
        _delete_=True,
        type='FeatureAffinityLoss',
        p=2,
        q=1,
        subsample=8,
        loss_weight=1.0))
