# DSRL in the paper's setting: the shipped DSRL config with the paper's FA
# term (cosine affinity, q = 1, subsampling 8, w_fa 1.0, its gradient into
# both branches), nothing else changed.
_base_ = ['./dsrl_espnetv2_s2.0_1xb4-1000i_camvid-180x240.py']
model = dict(
    fa_loss=dict(
        _delete_=True,
        type='FeatureAffinityLoss',
        p=2,
        q=1,
        subsample=8,
        loss_weight=1.0))
