# Same-input baseline at input_scale 0.25: the network sees 90x120 (padded
# to 96x128: the HR frame to 384x512), scores bilinearly resized to 360x480.
_base_ = ['./espnetv2_s2.0_1xb4-1000i_camvid-360x480.py']
model = dict(
    type='LRInputEncoderDecoder',
    input_scale=0.25,
    data_preprocessor=dict(size=(384, 512), test_cfg=dict(size_divisor=64)))
