"""Inference-graph complexity: what DSRL costs at inference."""
import pytest
import torch
from dsrl_test_utils import tiny_segmentor_cfg
from mmseg.registry import MODELS

from mmseg_dsrl.models.functional import scaled_size
from mmseg_dsrl.analysis.measurement import (
    executed_parameter_count,
    inference_complexity,
    random_inputs,
)


def _build(type, **kw):
    return MODELS.build(tiny_segmentor_cfg(type, **kw)).eval()


def test_scaled_size_rounds_half_up_and_accepts_traced_shapes():
    assert scaled_size((5, 7), 0.5) == (3, 4)
    assert scaled_size(torch.Size([360, 480]), 0.5) == (180, 240)
    assert scaled_size((torch.tensor(9), torch.tensor(11)), 0.5) == (5, 6)


def test_dsrl_costs_its_lr_baseline_and_a_quarter_of_full_input():
    dsrl = _build('DSRLEncoderDecoder')
    lr = _build('LRInputEncoderDecoder')
    full = _build('EncoderDecoder')
    shape = (128, 192)
    f_dsrl = inference_complexity(dsrl, shape)
    f_lr = inference_complexity(lr, shape)
    f_full = inference_complexity(full, shape)
    assert f_dsrl['flops'] <= 1.05 * f_lr['flops']
    assert f_dsrl['flops'] > f_lr['flops']  # the deconvolutions count
    assert f_dsrl['flops'] <= 0.35 * f_full['flops']


def test_training_only_parameters_are_not_counted():
    model = _build('DSRLEncoderDecoder')
    x = random_inputs(model, (64, 96))
    counted = executed_parameter_count(model, x)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    expected = (
        n(model) - n(model.sisr_head) - n(model.auxiliary_head) -
        n(model.decode_head.fa_transform))
    assert counted == expected
    assert inference_complexity(model, (64, 96))['params'] == expected


def test_models_built_from_one_config_do_not_share_test_cfg():
    """Setting one model's test_cfg (e.g. an ICNet exit) must not change a
    second model built from the same config."""
    from dsrl_test_utils import tiny_segmentor_cfg
    from mmengine.config import Config

    from mmseg_dsrl.analysis.measurement import build_inference_model
    cfg = Config(dict(model=tiny_segmentor_cfg(type='EncoderDecoder')))
    first, second = build_inference_model(cfg), build_inference_model(cfg)
    first.test_cfg.mode = 'slide'
    assert second.test_cfg.mode == 'whole'
    assert cfg.model.test_cfg.mode == 'whole'


def test_round_robin_times_every_call_once_per_round_in_order():
    from mmseg_dsrl.analysis.measurement import round_robin_times
    order = []
    times = round_robin_times(
        {'a': lambda: order.append('a'), 'b': lambda: order.append('b')},
        rounds=3,
        warmup=2)
    assert order == ['a', 'b'] * 5  # 2 warm-up + 3 timed rounds
    assert {k: len(v) for k, v in times.items()} == {'a': 3, 'b': 3}
    assert all(t >= 0 for v in times.values() for t in v)


def test_round_robin_times_shuffled_varies_the_order_of_every_round():
    from mmseg_dsrl.analysis.measurement import round_robin_times
    calls = []
    steps = {k: (lambda k=k: calls.append(k)) for k in 'abcd'}
    times = round_robin_times(steps, rounds=12, warmup=2, shuffle_seed=3)
    assert {k: len(v) for k, v in times.items()} == dict.fromkeys('abcd', 12)
    rounds = [tuple(calls[i:i + 4]) for i in range(0, len(calls), 4)]
    assert len(rounds) == 14
    assert all(sorted(r) == list('abcd') for r in rounds)
    # Every entry is sometimes first: no fixed position.
    assert {r[0] for r in rounds} == set('abcd')


def test_round_robin_times_keeps_autograd_for_training_steps():
    from mmseg_dsrl.analysis.measurement import round_robin_times
    x = torch.ones(2, requires_grad=True)
    grads = {}
    round_robin_times(
        dict(train=lambda: grads.update(on=(x * 2).requires_grad)),
        rounds=1, warmup=0, no_grad=False)
    assert grads == dict(on=True)
    round_robin_times(
        dict(infer=lambda: grads.update(on=(x * 2).requires_grad)),
        rounds=1, warmup=0)
    assert grads == dict(on=False)


def test_paired_ratios_median_and_quartiles_of_per_round_ratios():
    from mmseg_dsrl.analysis.measurement import paired_ratios

    # The machine slows down 3x between rounds; within a round the entry
    # takes 1.25x the baseline, except in two rounds where a hiccup hit
    # only the baseline.
    drift = [1.0, 1.1, 3.0, 2.9, 1.05]
    base = [0.2 * d for d in drift]
    other = [0.25 * d for d in drift]
    other[2], other[3] = 0.25 * 1.0, 0.25 * 1.1
    rows = paired_ratios(dict(lr=base, dsrl=other), 'lr')
    assert [r['name'] for r in rows] == ['lr', 'dsrl']
    assert rows[0]['ratio'] == pytest.approx(1.0)
    assert rows[0]['ratio_q1'] == rows[0]['ratio_q3'] == pytest.approx(1.0)
    ratios = sorted(v / b for v, b in zip(other, base))
    assert ratios[0] < 0.5 and ratios[2:] == pytest.approx([1.25] * 3)
    assert rows[1]['ratio'] == pytest.approx(1.25)
    assert rows[1]['ratio_q1'] == pytest.approx(ratios[1])
    assert rows[1]['ratio_q3'] == pytest.approx(1.25)
    assert rows[1]['ms'] == pytest.approx(262.5)  # median of its times
