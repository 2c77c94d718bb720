# Resolution distillation: a frozen model trained at full resolution teaches
# the DSRL student's HR class scores (mmseg_dsrl.models.distillation.HRTeacher).
#
# The two terms of structured knowledge distillation (Liu et al., CVPR 2019):
# pixel-wise KL at temperature 1 and pair-wise affinity (DSRL's FA between the
# student's and the teacher's HR class scores). Weights 1.0 each, not tuned.
# A config adds it with
#     model = dict(hr_teacher=dict(
#         config='<teacher config>', checkpoint='<teacher weights>',
#         pixel_loss={{_base_.hr_teacher_pixel_loss}},
#         pair_loss={{_base_.hr_teacher_pair_loss}}))
# The teacher is built at the first training step: inference, FLOPs and
# export never need its files, and it is not saved in the checkpoints.
hr_teacher_pixel_loss = dict(
    type='PixelKDLoss', temperature=1.0, loss_weight=1.0,
    loss_name='loss_pixel')
hr_teacher_pair_loss = dict(
    type='FeatureAffinityLoss',
    p=2,
    q=1,
    subsample=8,
    loss_weight=1.0,
    loss_name='loss_pair')
