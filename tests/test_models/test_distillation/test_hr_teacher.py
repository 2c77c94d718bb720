"""The HR teacher of a DSRL student (resolution distillation)."""
import copy

import pytest
import torch
from dsrl_test_utils import (NUM_CLASSES, seg_batch,  # noqa: I100
                             tiny_segmentor_cfg)
from mmengine.config import Config
from mmseg.registry import MODELS

from mmseg_dsrl.models.losses import feature_affinity_loss, pixel_kd_loss

PIXEL = dict(type='PixelKDLoss', loss_name='loss_pixel')
PAIR = dict(type='FeatureAffinityLoss', subsample=4, loss_name='loss_pair')


def _teacher_files(tmp_path, **model_changes):
    """A teacher config (a plain EncoderDecoder on the student's data) and
    a checkpoint of it with non-trivial weights and BN statistics."""
    model_cfg = tiny_segmentor_cfg(type='EncoderDecoder')
    model_cfg.update(model_changes)
    config = tmp_path / 'teacher.py'
    Config(dict(model=model_cfg.to_dict())).dump(str(config))
    torch.manual_seed(0)
    teacher = MODELS.build(copy.deepcopy(model_cfg))
    with torch.no_grad():
        for name, buf in teacher.named_buffers():
            if name.endswith('running_mean'):
                buf.normal_(0, 0.1)
            elif name.endswith('running_var'):
                buf.uniform_(0.5, 1.5)
    checkpoint = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), checkpoint)
    return str(config), str(checkpoint), teacher.eval()


def _student(config_path, checkpoint, **teacher):
    block = dict(config=config_path, checkpoint=checkpoint, pixel_loss=PIXEL,
                 pair_loss=PAIR)
    block.update(teacher)
    return MODELS.build(tiny_segmentor_cfg(hr_teacher=block))


def test_distillation_terms_equal_the_definitions(tmp_path):
    """kd.loss_pixel / kd.loss_pair are the KL and the affinity distance
    between the student's HR scores (the map its cross-entropy reads) and
    the teacher's scores for the HR image, with the teacher's weights as
    saved."""
    config, checkpoint, teacher = _teacher_files(tmp_path)
    student = _student(config, checkpoint)
    inputs, samples = seg_batch(h=64, w=96)
    seen = []
    original = student.sssr.head.loss_by_feat

    def loss_by_feat(seg_logits, *args):
        seen.append(seg_logits)
        return original(seg_logits, *args)

    student.sssr.head.loss_by_feat = loss_by_feat
    losses = student.loss(inputs, samples)
    with torch.no_grad():
        expected_teacher = teacher.encode_decode(
            inputs, [dict(img_shape=(64, 96), pad_shape=(64, 96))] * 2)
    # SSSR's output (x4 from 1/16 of HR, resized by SSSR to the HR label).
    assert seen[0].shape == (2, NUM_CLASSES, 64, 96)
    student_scores = seen[0]
    torch.testing.assert_close(
        losses['kd.loss_pixel'],
        pixel_kd_loss(student_scores, expected_teacher))
    torch.testing.assert_close(
        losses['kd.loss_pair'],
        feature_affinity_loss(student_scores, expected_teacher, subsample=4))
    assert losses['kd.loss_pixel'] > 0 and losses['kd.loss_pair'] > 0


def test_teacher_is_frozen_and_outside_the_student(tmp_path):
    config, checkpoint, _ = _teacher_files(tmp_path)
    student = _student(config, checkpoint).train()
    reference = MODELS.build(tiny_segmentor_cfg())
    inputs, samples = seg_batch(h=64, w=96)
    losses = student.loss(inputs, samples)
    teacher = student.hr_teacher.model
    assert teacher is not None and not teacher.training
    student.train()  # the runner's call leaves the teacher in eval mode
    student.loss(inputs, samples)
    assert not student.hr_teacher.model.training
    # Not in the student's parameters, state_dict (so not in checkpoints)
    # or submodules: the keys are exactly those of DSRL without a teacher.
    assert set(student.state_dict()) == set(reference.state_dict())
    teacher_params = {id(p) for p in teacher.parameters()}
    assert not teacher_params & {id(p) for p in student.parameters()}
    assert all(m is not teacher for m in student.modules())
    # The distillation terms alone train the student, never the teacher.
    (losses['kd.loss_pixel'] + losses['kd.loss_pair']).backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert next(student.backbone.parameters()).grad.abs().sum() > 0


def test_inference_is_dsrls_and_never_reads_the_teachers_files(tmp_path):
    config, checkpoint, _ = _teacher_files(tmp_path)
    student = _student(config, str(tmp_path / 'not-trained-yet.pth')).eval()
    plain = MODELS.build(tiny_segmentor_cfg()).eval()
    plain.load_state_dict(student.state_dict(), strict=True)
    inputs, samples = seg_batch(h=64, w=96)
    with torch.no_grad():
        torch.testing.assert_close(
            student.predict(inputs, samples)[0].seg_logits.data,
            plain.predict(inputs, samples)[0].seg_logits.data)
        torch.testing.assert_close(
            student(inputs, mode='tensor'), plain(inputs, mode='tensor'))
    assert student.hr_teacher.model is None
    student.train()
    with pytest.raises(FileNotFoundError, match='not-trained-yet.pth'):
        student.loss(inputs, samples)


@pytest.mark.parametrize(
    'change, match',
    [(dict(num_classes=NUM_CLASSES + 1), 'segments 6 classes, the student 5'),
     (dict(std=[1.0, 1.0, 1.0]), 'normalises images with std'),
     (dict(config='missing.py'), "config='missing.py': no such config"),
     (dict(pixel_loss=None, pair_loss=None), 'needs pixel_loss and/or'),
     (dict(temperature=2.0), r"unknown: \['temperature'\]"),
     (dict(pair_loss=dict(PAIR, loss_name='loss_pixel')),
      'different loss_name')])
def test_config_mistakes_fail_at_build(tmp_path, change, match):
    if 'num_classes' in change:
        head = dict(tiny_segmentor_cfg(type='EncoderDecoder').decode_head,
                    num_classes=NUM_CLASSES + 1)
        config, checkpoint, _ = _teacher_files(tmp_path, decode_head=head)
        change = {}
    elif 'std' in change:
        pre = dict(tiny_segmentor_cfg(type='EncoderDecoder')
                   .data_preprocessor, std=change.pop('std'))
        config, checkpoint, _ = _teacher_files(tmp_path,
                                               data_preprocessor=pre)
    else:
        config, checkpoint, _ = _teacher_files(tmp_path)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        _student(config, checkpoint, **change)


def test_distillation_under_bf16_autocast_stays_float32_and_close(tmp_path):
    """``--amp``: the teacher runs under autocast too; the distillation terms
    are computed in float32 and stay close to the float32 step's."""
    config, checkpoint, _ = _teacher_files(tmp_path)
    student = _student(config, checkpoint)
    inputs, samples = seg_batch(h=64, w=96)
    full = student.loss(inputs, samples)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mixed = student.loss(inputs, samples)
    for name in ('kd.loss_pixel', 'kd.loss_pair'):
        assert mixed[name].dtype == torch.float32, name
        torch.testing.assert_close(mixed[name], full[name], rtol=0.05,
                                   atol=1e-3)
