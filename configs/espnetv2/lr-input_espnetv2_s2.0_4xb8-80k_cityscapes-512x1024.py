# Same-input baseline of the paper's DSRL on Cityscapes: the 1024x512 frame
# (W x H) seen at 512x256 by EdgeNets' 512x256 model, scores bilinearly
# resized to 1024x512.
_base_ = ['./espnetv2_s2.0_4xb8-80k_cityscapes-512x1024.py']
load_from = 'edgenets://../shared/pretrained/edgenets/espnetv2_s_2.0_city_512x256.pth'  # noqa: E501
model = dict(
    type='LRInputEncoderDecoder',
    input_scale=0.5,
    data_preprocessor=dict(test_cfg=dict(size_divisor=32)))
