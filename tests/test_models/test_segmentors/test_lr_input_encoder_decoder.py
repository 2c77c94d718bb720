import torch
import torch.nn.functional as F
from dsrl_test_utils import NUM_CLASSES, seg_batch, tiny_segmentor_cfg
from mmseg.registry import MODELS


def test_equals_stock_encoder_decoder_on_downsampled_image():
    lr = MODELS.build(
        tiny_segmentor_cfg('LRInputEncoderDecoder', input_scale=0.5)).eval()
    stock = MODELS.build(tiny_segmentor_cfg('EncoderDecoder')).eval()
    stock.load_state_dict(lr.state_dict())
    inputs, samples = seg_batch(h=64, w=96)
    small = F.interpolate(
        inputs,
        size=(32, 48),
        mode='bilinear',
        align_corners=False,
        antialias=True)
    with torch.no_grad():
        torch.testing.assert_close(
            lr(inputs, mode='tensor'), stock(small, mode='tensor'))
        out = lr.predict(inputs, samples)
    # Scores are bilinearly upsampled to the HR image.
    assert out[0].seg_logits.data.shape == (NUM_CLASSES, 64, 96)


def test_loss_is_against_hr_label():
    model = MODELS.build(tiny_segmentor_cfg('LRInputEncoderDecoder'))
    inputs, samples = seg_batch(h=64, w=96)
    losses = model.loss(inputs, samples)
    assert set(losses) == {
        'decode.loss_ce', 'decode.acc_seg', 'aux.loss_ce', 'aux.acc_seg'
    }
    # A perfect HR label from the model's own upsampled prediction gives a
    # lower loss than a shifted one: the loss really uses the HR label.
    with torch.no_grad():
        model.eval()
        pred = model.predict(inputs, samples)
        model.train()
    for s, p in zip(samples, pred):
        s.gt_sem_seg.data = p.pred_sem_seg.data.clone()
    good = model.loss(inputs, samples)['decode.loss_ce']
    for s in samples:
        s.gt_sem_seg.data = (s.gt_sem_seg.data + 1) % NUM_CLASSES
    bad = model.loss(inputs, samples)['decode.loss_ce']
    assert good < bad
