# ESPNetv2 (s = 2.0) segmentation network as EdgeNets releases it: the
# ESPNetV2 encoder (levels 1-4) and its bottom-up decoder, 20 Cityscapes
# outputs (index 19: EdgeNets' "background"), ImageNet normalisation of
# RGB, bilinear resizes with align_corners=True. Inputs are padded to
# multiples of 16 (the decoder merges levels 1/2 ... 1/16) and the padding
# is cropped from the prediction.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=16,
    test_cfg=dict(size_divisor=16))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='ESPNetV2', widen_factor=2.0, norm_cfg=norm_cfg),
    decode_head=dict(
        type='ESPNetV2Head',
        in_channels=(32, 128, 256, 512),
        in_index=(0, 1, 2, 3),
        channels=10,
        decoder_channels=(64, 48, 32),
        num_classes=20,
        dropout_ratio=0.0,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
