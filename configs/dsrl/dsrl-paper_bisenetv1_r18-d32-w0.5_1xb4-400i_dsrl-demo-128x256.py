# DSRL on the demo dataset with the paper's FA term (cosine affinity,
# subsampling 8, w_fa 1.0): the demo DSRL config plus the paper's FA.
_base_ = ['./dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py']
model = dict(
    fa_loss=dict(
        _delete_=True,
        type='FeatureAffinityLoss',
        p=2,
        q=1,
        subsample=8,
        loss_weight=1.0))
