import math

import pytest
import torch
from dsrl_test_utils import seg_batch, tiny_segmentor_cfg
from mmseg.registry import MODELS

from mmseg_dsrl.evaluation import SISRQualityMetric, psnr, ssim


def test_psnr_hand_computed():
    a = torch.zeros(3, 4, 4)
    b = torch.full((3, 4, 4), 5.0)
    assert float(psnr(a, b)) == pytest.approx(10 * math.log10(255**2 / 25))


def _naive_ssim(x, y, window=11, sigma=1.5, L=255.0):
    coords = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
    g = torch.exp(-coords**2 / (2 * sigma**2))
    w = (g[:, None] * g[None, :]) / g.sum()**2
    c1, c2 = (0.01 * L)**2, (0.03 * L)**2
    vals = []
    for c in range(x.shape[0]):
        for i in range(x.shape[1] - window + 1):
            for j in range(x.shape[2] - window + 1):
                px = x[c, i:i + window, j:j + window].double()
                py = y[c, i:i + window, j:j + window].double()
                mx, my = (w * px).sum(), (w * py).sum()
                vx = (w * px * px).sum() - mx**2
                vy = (w * py * py).sum() - my**2
                cxy = (w * px * py).sum() - mx * my
                vals.append(((2 * mx * my + c1) * (2 * cxy + c2)) /
                            ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return torch.stack(vals).mean()


def test_ssim_matches_naive_windows_and_identity_is_one():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 14, 13, generator=g) * 255
    y = (x + torch.randn(2, 14, 13, generator=g) * 20).clamp(0, 255)
    torch.testing.assert_close(ssim(x, y), _naive_ssim(x, y))
    assert float(ssim(x, x)) == pytest.approx(1.0)


@pytest.mark.parametrize('name', ['astronaut', 'coffee', 'chelsea'])
def test_psnr_ssim_match_scikit_image_on_photographs(name):
    """scikit-image's PSNR and SSIM (Wang et al.'s setting: Gaussian
    window, sigma 1.5, population covariances) on its bundled photographs,
    the 'reconstruction' being the photo downsampled by 2 and bilinearly
    upsampled, as DSRL's SISR branch sees its task."""
    skimage = pytest.importorskip('skimage')
    import cv2
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    hr = getattr(skimage.data, name)()  # H, W, 3 uint8
    h, w = hr.shape[:2]
    lr = cv2.resize(hr, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    sr = cv2.resize(lr, (w, h), interpolation=cv2.INTER_LINEAR)
    expected_psnr = peak_signal_noise_ratio(hr, sr, data_range=255)
    expected_ssim = structural_similarity(
        hr, sr, data_range=255, channel_axis=-1, gaussian_weights=True,
        sigma=1.5, use_sample_covariance=False)
    as_chw = lambda a: torch.from_numpy(a).permute(2, 0, 1).float()  # noqa
    assert float(psnr(as_chw(sr), as_chw(hr))) == pytest.approx(
        expected_psnr, abs=1e-6)
    assert float(ssim(as_chw(sr), as_chw(hr))) == pytest.approx(
        expected_ssim, abs=1e-6)
    assert 0.5 < expected_ssim < 0.99  # a real, imperfect reconstruction


def test_metric_requires_sisr_output():
    metric = SISRQualityMetric()
    with pytest.raises(ValueError, match='output_sisr=True'):
        metric.process([],
                       [dict(pred_sem_seg=dict(data=torch.zeros(1, 4, 4)))])


def test_dsrl_predict_outputs_sisr_on_request_and_metric_reads_it():
    model = MODELS.build(tiny_segmentor_cfg()).eval()
    inputs, samples = seg_batch(h=64, w=96)
    with torch.no_grad():
        plain = model.predict(inputs, samples)
        assert 'sr_image' not in plain[0]
        model.test_cfg['output_sisr'] = True
        out = model.predict(inputs, samples)
    assert out[0].sr_image.shape == (64, 96)
    hr = out[0].hr_image.data
    # hr_image is the de-normalised input.
    pre = model.data_preprocessor
    torch.testing.assert_close(
        hr, inputs[0] * pre.std[:, 0:1, 0:1].view(3, 1, 1) +
        pre.mean.view(3, 1, 1))
    metric = SISRQualityMetric()
    metric.process([], [s.to_dict() for s in out])
    res = metric.compute_metrics(metric.results)
    assert set(res) == {'PSNR', 'SSIM'} and res['PSNR'] > 0
