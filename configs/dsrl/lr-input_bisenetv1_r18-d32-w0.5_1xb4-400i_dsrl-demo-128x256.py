# Same-input baseline on the demo dataset: the network sees 128x256 (the
# 256x512 scene at input_scale 0.5); scores are bilinearly upsampled.
_base_ = [
    '../_base_/models/bisenetv1_r18-d32-w0.5_dsrl-demo.py',
    '../_base_/datasets/dsrl-demo_256x512.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/dsrl-demo_400it.py'
]
custom_imports = dict(imports=['mmseg_dsrl'], allow_failed_imports=False)
model = dict(
    type='LRInputEncoderDecoder',
    input_scale=0.5,
    data_preprocessor=dict(size=(256, 512)))
