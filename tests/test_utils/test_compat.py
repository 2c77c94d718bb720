"""Work-arounds of mmseg_dsrl.utils.compat."""
import pytest
import torch


def test_class_weighted_cross_entropy_with_ignored_pixels():
    import torch.nn.functional as F
    from mmseg.models.losses import CrossEntropyLoss
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 6, 7, generator=g)
    label = torch.randint(0, 4, (2, 6, 7), generator=g)
    label[:, :2] = 255
    weight = [0.5, 1.0, 2.0, 3.0]
    loss = CrossEntropyLoss(class_weight=weight)(logits, label,
                                                 ignore_index=255)
    expected = F.cross_entropy(logits, label, weight=torch.tensor(weight),
                               ignore_index=255)
    torch.testing.assert_close(loss, expected)


def test_complexity_info_accepts_inputs_with_input_shape():
    """mmseg's get_flops.py passes both; the count is that of ``inputs``,
    and each argument alone behaves as in mmengine."""
    from mmengine.analysis import get_model_complexity_info
    model = torch.nn.Conv2d(3, 4, 3, bias=False)
    x = torch.zeros(1, 3, 10, 10)
    both = get_model_complexity_info(
        model, (3, 99, 99), inputs=x, show_table=False, show_arch=False)
    only_inputs = get_model_complexity_info(
        model, inputs=x, show_table=False, show_arch=False)
    only_shape = get_model_complexity_info(
        model, (3, 10, 10), show_table=False, show_arch=False)
    assert both['flops'] == only_inputs['flops'] == only_shape['flops'] \
        == 4 * 3 * 9 * 8 * 8
    with pytest.raises(ValueError, match='should be set'):
        get_model_complexity_info(model)
