# Reference: stock EncoderDecoder at the full 256x512 input (4x the FLOPs).
_base_ = [
    '../_base_/models/bisenetv1_r18-d32-w0.5_dsrl-demo.py',
    '../_base_/datasets/dsrl-demo_256x512.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/dsrl-demo_400it.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
model = dict(data_preprocessor=dict(size=(256, 512)))
