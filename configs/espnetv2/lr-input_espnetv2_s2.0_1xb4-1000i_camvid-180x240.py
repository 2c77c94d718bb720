# Same-input baseline: the network sees 180x240 (the 360x480 frame at 0.5;
# padded to 384x480 so that the 192x240 input is a multiple of 16), scores
# bilinearly resized to 360x480.
_base_ = ['./espnetv2_s2.0_1xb4-1000i_camvid-360x480.py']
model = dict(
    type='LRInputEncoderDecoder',
    input_scale=0.5,
    data_preprocessor=dict(size=(384, 480), test_cfg=dict(size_divisor=32)))
