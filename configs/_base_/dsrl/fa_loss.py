# The Feature Affinity (FA) term of every DSRL config in this project.
#
# Default: no FA. On CamVid (from scratch, 1000 iterations, 3 seeds; see
# configs/camvid/README.md) SSSR + SISR without FA beat the same-input
# baseline in every seed, and adding the paper's FA term (w_fa = 1.0) undid
# the gain: FA is satisfied by bending the SR reconstruction towards the
# segmentation's affinity rather than the other way round. Without FA the SSSR
# head also drops its 1x1 FA feature transform (training-only either way).
dsrl_fa_loss = None
# The paper's setting (Wang et al., CVPR 2020, Eq. 5-6): cosine affinity
# (p = 2), q = 1, positions subsampled by 8, w_fa = 1.0, its gradient into
# both branches (FeatureAffinityLoss's own defaults). A config that builds
# DSRL over a stock mmseg config can pull it in as a base variable (like the
# Cityscapes configs' dsrl_fa_loss); over one of this project's DSRL configs
# (where fa_loss is None) the dict must replace the None, so the
# `dsrl-paper_*.py` configs write
#     model = dict(fa_loss=dict(_delete_=True, type='FeatureAffinityLoss',
#                               p=2, q=1, subsample=8, loss_weight=1.0))
# and on the command line the same is
#     --cfg-options model.fa_loss._delete_=True \
#         model.fa_loss.type=FeatureAffinityLoss
dsrl_fa_loss_paper = dict(
    type='FeatureAffinityLoss', p=2, q=1, subsample=8, loss_weight=1.0)
