"""Measure a segmentor's feature geometry on the input it will train at.

DSRL's SISR head needs the channels of the feature map it taps and that
map's stride relative to the HR image; its SSSR head needs to know which
of a multi-output head's class-score maps is the prediction. Both are
measured here, once, at build time, instead of being typed into configs:

* on the HR size the config trains at (``data_preprocessor.size``, else
  ``test_cfg.crop_size``, else an explicit ``probe_size``), so backbones
  with a fixed input size (BEiT, MAE) and heads with large pooling kernels
  (LRASPP) see what they will see in training;
* with every module that branches on ``self.training`` in its training
  structure (DDRNet / PIDNet return several maps only in training), but
  norm and dropout layers in eval mode, so no statistic is updated and the
  computation is deterministic;
* shapes only, under PyTorch's fake tensors (no arithmetic, no memory),
  with a real ``torch.no_grad`` run on zeros as the fallback for modules
  fake tensors cannot trace.
"""
import logging
import math
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .host_adapters import is_stochastic_or_stateful

__all__ = [
    'FeatureGeometryError', 'training_structure', 'preserved_buffers',
    'eval_mode', 'run_shapes_only',
    'sub_pixel_factor', 'locate_inference_output'
]

Size = Tuple[int, int]


class FeatureGeometryError(ValueError):
    """The segmentor could not be run on its training input size."""


@contextmanager
def training_structure(model: nn.Module) -> Iterator[None]:
    """Modules in training mode (the outputs have their training
    structure) except norms and dropouts (nothing updated, deterministic);
    every module's mode restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.train()
        for m in model.modules():
            if is_stochastic_or_stateful(m):
                m.eval()
        yield
    finally:
        for m, mode in modes:
            m.training = mode


@contextmanager
def preserved_buffers(model: nn.Module) -> Iterator[None]:
    """Every buffer keeps its object and its values through the block.

    Some modules update buffers in training even with norms in eval mode
    (EMANet's bases); a probe must leave no trace, and under fake tensors
    such an update would leave a fake tensor behind.
    """
    saved = [(m, name, buf, buf.detach().clone())
             for m in model.modules() for name, buf in m._buffers.items()
             if buf is not None]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, name, buf, values in saved:
                buf.copy_(values)
                m._buffers[name] = buf


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Every module in eval mode; modes restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def run_shapes_only(fn: Callable[[Tensor], Any], image: Tensor) -> Any:
    """``fn(image)`` under fake tensors (shapes only), else for real.

    Returns:
        The output structure; its tensors carry the right shapes (fake or
        real tensors).

    Raises:
        Exception: The real run's error, when neither run works.
    """
    try:
        from torch._subclasses.fake_tensor import FakeTensorMode
    except ImportError:  # pragma: no cover - very old torch
        FakeTensorMode = None
    if FakeTensorMode is not None:
        # torch logs every op fake tensors cannot run; the real run below
        # reports what matters.
        fake_log = logging.getLogger('torch._subclasses.fake_tensor')
        level = fake_log.level
        fake_log.setLevel(logging.CRITICAL)
        try:
            with torch.no_grad(), FakeTensorMode(
                    allow_non_fake_inputs=True):
                return fn(torch.zeros_like(image))
        except Exception:  # noqa: BLE001 - any failure: try for real
            pass
        finally:
            fake_log.setLevel(level)
    with torch.no_grad():
        return fn(image)


def sub_pixel_factor(hr_size: Sequence[int],
                     feat_size: Sequence[int]) -> Optional[int]:
    """Integer factor r at which a feature map of ``feat_size`` is the HR
    image of ``hr_size`` subsampled, or None.

    Strides of mmseg models are powers of two; an image size that is not
    a multiple of the stride gives ceil/floor-rounded feature sizes (CamVid's
    360 rows at stride 64 give 6 rows), so the nearest power of two whose
    ``r * feat`` is within ``r`` of the HR size in both dimensions wins;
    otherwise an exact common integer ratio (e.g. a patch-14 ViT).
    """
    ratios = [h / f for h, f in zip(hr_size, feat_size)]
    power = 2**round(math.log2(sum(ratios) / len(ratios)))
    if power >= 1 and all(
            abs(power * f - h) < power for h, f in zip(hr_size, feat_size)):
        return int(power)
    if ratios[0] == ratios[1] and float(ratios[0]).is_integer():
        return int(ratios[0])
    return None


def _resize(x: Tensor, size: Size, align_corners: bool) -> Tensor:
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return F.interpolate(
        x, size=size, mode='bilinear', align_corners=align_corners)


def locate_inference_output(train_maps: List[Tensor],
                            predicted: Tensor,
                            align_corners: bool,
                            head_name: str = 'the head') -> int:
    """Index of the training-time class-score map the head predicts with.

    Args:
        train_maps (list[Tensor]): The head's class-score maps in training
            structure (norms in eval mode), in depth-first order.
        predicted (Tensor): The head's prediction for the same input in eval
            mode, at the size of ``train_maps[0]``.
        align_corners (bool): How the head resizes scores.
        head_name (str): For the error message.

    Returns:
        int: The index into ``train_maps``.
    """
    size = tuple(predicted.shape[2:])
    errors = []
    for i, m in enumerate(train_maps):
        m = _resize(m, size, align_corners)
        if m.shape != predicted.shape:
            errors.append(float('inf'))
            continue
        errors.append(float((m - predicted).abs().max()))
    best = min(range(len(errors)), key=errors.__getitem__)
    scale = float(predicted.abs().max()) + 1e-6
    if errors[best] > 1e-4 * scale:
        raise FeatureGeometryError(
            f'cannot tell which of the {len(train_maps)} class-score maps '
            f'{head_name} returns in training it predicts with (smallest '
            f'difference {errors[best]:.3g}); set '
            'sssr_head.inference_output_index')
    return best
