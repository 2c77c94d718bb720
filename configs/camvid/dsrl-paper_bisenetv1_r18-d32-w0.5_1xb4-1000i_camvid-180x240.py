# DSRL with the paper's FA term (cosine affinity, subsampling 8, w_fa 1.0):
# the project's DSRL config plus the paper's FA, nothing else changed.
_base_ = ['./dsrl_bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-180x240.py']
model = dict(
    fa_loss=dict(
        _delete_=True,
        type='FeatureAffinityLoss',
        p=2,
        q=1,
        subsample=8,
        loss_weight=1.0))
