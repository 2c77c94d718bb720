_base_ = './icnet-cascade_r50-d8-w0.5_4xb2-80k_cityscapes-832x832.py'
model = dict(backbone=dict(backbone_cfg=dict(depth=18)))
