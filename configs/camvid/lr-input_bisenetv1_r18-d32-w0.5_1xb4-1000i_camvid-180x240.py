# Same-input baseline: the network sees 180x240 (the 360x480 frame at 0.5),
# scores bilinearly upsampled to 360x480.
_base_ = ['./bisenetv1_r18-d32-w0.5_1xb4-1000i_camvid-360x480.py']
model = dict(type='LRInputEncoderDecoder', input_scale=0.5)
