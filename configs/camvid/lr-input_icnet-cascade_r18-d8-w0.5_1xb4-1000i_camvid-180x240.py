# Same-input baseline of dsrl_icnet-cascade_...: the paper's ICNet (R18 w0.5)
# fed the 360x480 frame at 0.5, its 1/4 scores bilinearly upsampled.
_base_ = ['./icnet-cascade_r18-d8-w0.5_1xb4-1000i_camvid-360x480.py']
model = dict(type='LRInputEncoderDecoder', input_scale=0.5)
