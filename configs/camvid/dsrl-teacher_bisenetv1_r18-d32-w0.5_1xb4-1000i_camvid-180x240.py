# DSRL as shipped + an HR teacher: the full-resolution BiSeNet of
# bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-360x480.py, trained first
#     python tools/train.py configs/camvid/bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-360x480.py
# (mmseg's train.py writes work_dirs/<config name>/iter_1000.pth), or any
# checkpoint of it given on the command line:
#     --cfg-options model.hr_teacher.checkpoint=PATH
# Inference, FLOPs and export are the DSRL config's: the teacher only trains.
_base_ = [
    './dsrl_bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-180x240.py',
    '../_base_/dsrl/hr_teacher.py'
]
model = dict(
    hr_teacher=dict(
        config='{{fileDirname}}/'
        'bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-360x480.py',
        checkpoint='work_dirs/'
        'bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-360x480/iter_1000.pth',
        pixel_loss={{_base_.hr_teacher_pixel_loss}},
        pair_loss={{_base_.hr_teacher_pair_loss}}))
