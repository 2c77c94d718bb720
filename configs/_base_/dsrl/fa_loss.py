# The Feature Affinity (FA) term of every DSRL config in this project.
#
# Default: the paper's FA term with its gradient into the SR side only (the
# SSSR side is read detached), so that FA shapes the SR branch, and through
# it the shared encoder, after the segmentation instead of pulling the
# segmentation's affinity towards the RGB image's; the SSSR-side 1x1 FA
# transform is a fixed projection (frozen at build). How it compares with
# the paper's setting and with no FA: docs/experiments.md.
dsrl_fa_loss = dict(
    type='FeatureAffinityLoss',
    p=2,
    q=1,
    subsample=8,
    loss_weight=1.0,
    gradient_to='sr')
# The paper's setting (Wang et al., CVPR 2020, Eq. 5-6): cosine affinity
# (p = 2), q = 1, positions subsampled by 8, w_fa = 1.0, its gradient into
# both branches (FeatureAffinityLoss's own defaults). The `dsrl-paper_*.py`
# configs write it out with `_delete_=True` (replacing the default dict);
# on the command line it is one option:
#     --cfg-options model.fa_loss.gradient_to=both
# and DSRL without FA (SSSR + SISR only) is `--cfg-options model.fa_loss=None`.
dsrl_fa_loss_paper = dict(
    type='FeatureAffinityLoss', p=2, q=1, subsample=8, loss_weight=1.0)
