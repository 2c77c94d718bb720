"""Everything DSRL knows about mmseg's host heads and segmentors, in one
place.

DSRL attaches to mmseg models it does not own. What it must know about
them -- which heads keep mmseg's ``forward`` -> ``loss_by_feat`` /
``predict_by_feat`` split, which expose their features, which need the
data samples, which cascade stage is a point head, which layers are
stochastic, which mmcv ops fake tensors cannot trace -- is written here and
nowhere else, so that a new mmseg release is checked against one module.
"""
import inspect
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Tuple

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.dropout import _DropoutNd

__all__ = [
    'keeps_default_loss', 'keeps_default_predict', 'exposes_features',
    'class_forward', 'class_predict', 'forward_replaced',
    'needs_data_samples', 'is_point_head_class', 'is_cascade_config',
    'is_stochastic_or_stateful', 'fixed_size_pooling', 'shape_only_ops'
]

# ---------------------------------------------------------------------------
# decode heads
# ---------------------------------------------------------------------------


def keeps_default_loss(head: nn.Module) -> bool:
    """Whether ``head.loss`` is mmseg's ``forward`` + ``loss_by_feat`` (so
    SSSR can call ``loss_by_feat`` on its HR outputs directly)."""
    cls = type(head)
    return (isinstance(head, BaseDecodeHead)
            and cls.loss is BaseDecodeHead.loss)


def keeps_default_predict(head: nn.Module) -> bool:
    """Whether ``head.predict`` is mmseg's ``forward`` +
    ``predict_by_feat``."""
    return (isinstance(head, BaseDecodeHead)
            and type(head).predict is BaseDecodeHead.predict)


def keeps_default_label_resize(head: nn.Module) -> bool:
    """Whether the head's loss resizes the scores to the label size itself
    (mmseg's ``loss`` and ``loss_by_feat``, bilinear with the head's
    ``align_corners``); heads with their own loss (ICNet's guidance heads
    downsample the label instead) do not."""
    cls = type(head)
    return (keeps_default_loss(head)
            and cls.loss_by_feat is BaseDecodeHead.loss_by_feat)


def exposes_features(head: nn.Module) -> bool:
    """Whether ``head.forward`` is ``cls_seg(_forward_feature(x))``.

    True when the class that defines ``forward`` also defines
    ``_forward_feature`` (mmseg's FCNHead, PSPHead, ASPPHead, UPerHead). A
    subclass that overrides ``forward`` alone (DepthwiseSeparableASPPHead
    adds a low-level decoder there) would lose that computation.
    """
    for cls in type(head).__mro__:
        if 'forward' in vars(cls):
            return '_forward_feature' in vars(cls)
    return False


def class_forward(head: nn.Module, inputs: Any, *args) -> Any:
    """The head class's ``forward`` (not an instance attribute that
    :func:`forward_replaced` set)."""
    return type(head).forward(head, inputs, *args)


def class_predict(head: nn.Module, inputs: Any, *args) -> Tensor:
    """The head class's ``predict``."""
    return type(head).predict(head, inputs, *args)


@contextmanager
def forward_replaced(head: nn.Module,
                     forward: Callable[..., Any]) -> Iterator[None]:
    """Within the block ``head.forward`` is ``forward``.

    The fallback for heads whose own ``loss`` / ``predict`` compute more
    than ``forward`` + ``*_by_feat`` (cascade stages, heads with their own
    loss): they call ``self.forward`` inside, and this is the one way to
    give them SSSR's HR outputs without re-implementing them.
    """
    head.forward = forward
    try:
        yield
    finally:
        del head.forward


def needs_data_samples(head: nn.Module) -> bool:
    """Whether the head's ``forward`` needs the data samples (query-based
    mask classifiers: MaskFormer, Mask2Former)."""
    params = inspect.signature(type(head).forward).parameters
    return 'batch_data_samples' in params or 'batch_img_metas' in params


def is_point_head_class(cls: Any) -> bool:
    """Whether a head class refines points (PointRend's interface: it
    samples points from the previous stage's dense scores instead of
    predicting a dense map)."""
    return cls is not None and callable(getattr(cls, 'get_points_train',
                                                None))


# ---------------------------------------------------------------------------
# segmentors
# ---------------------------------------------------------------------------


def is_cascade_config(model_kwargs: dict) -> bool:
    """Whether segmentor arguments are a ``CascadeEncoderDecoder``'s
    (``num_stages`` and a list of decode heads: OCRNet, PointRend)."""
    return 'num_stages' in model_kwargs


# ---------------------------------------------------------------------------
# modules met while probing a model's geometry
# ---------------------------------------------------------------------------


def is_stochastic_or_stateful(module: nn.Module) -> bool:
    """Norms that update statistics and layers that drop at random (torch's
    dropouts, and mmcv / timm ``DropPath``-style layers, which share no base
    class: recognised by name)."""
    return isinstance(module, (_BatchNorm, _DropoutNd)) or \
        'drop' in type(module).__name__.lower()


def fixed_size_pooling(model: nn.Module,
                       min_kernel: int = 8) -> List[Tuple[str, Any]]:
    """Pooling layers with a fixed kernel of at least ``min_kernel`` (e.g.
    LRASPP's 49x49 image pooling): ``(name, kernel_size)`` each. Such a
    kernel fits the feature size of one input resolution only."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.AvgPool2d, nn.MaxPool2d)):
            k = module.kernel_size
            if max(k if isinstance(k, tuple) else (k, )) >= min_kernel:
                found.append((name, k))
    return found


def _psa_mask_shape(x: Tensor) -> Tensor:
    """mmcv's PSAMask output shape, (N, h * w, h, w), without its CPU
    kernel (a loop over every pixel pair)."""
    n, _, h, w = x.shape
    return x.new_zeros((n, h * w, h, w))


#: mmcv ops that fake tensors cannot trace (compiled kernels behind an
#: autograd Function), by class name, with a function giving their output
#: shape. Without one, the geometry probe falls back to a real run of the
#: op's kernel (for PSANet's PSAMask on a CPU, a loop over pixel pairs).
_SHAPE_ONLY_OPS = {'PSAMask': _psa_mask_shape}


@contextmanager
def shape_only_ops(model: nn.Module) -> Iterator[None]:
    """Within the block, the ops of :data:`_SHAPE_ONLY_OPS` in ``model``
    return zeros of their output shape (for shape-only probes)."""
    replaced = []
    for module in model.modules():
        shape_fn = _SHAPE_ONLY_OPS.get(type(module).__name__)
        if shape_fn is not None and 'forward' not in vars(module):
            module.forward = shape_fn
            replaced.append(module)
    try:
        yield
    finally:
        for module in replaced:
            del module.forward
