"""EncoderDecoder that sees a downsampled copy of its input image."""
from typing import List

from mmseg.models.segmentors import CascadeEncoderDecoder, EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor

from ..functional import downsample_image
from ..utils.host_adapters import is_cascade_config


def check_input_scale(input_scale: float) -> float:
    """Validate a segmentor's ``input_scale`` and return it as float."""
    if isinstance(input_scale, bool) or not isinstance(input_scale,
                                                       (int, float)):
        raise TypeError(f'input_scale must be a number in (0, 1], got '
                        f'{input_scale!r}')
    if not 0 < input_scale <= 1:
        raise ValueError(f'input_scale must be in (0, 1] (the backbone sees '
                         f'the image scaled by it), got {input_scale}')
    return float(input_scale)


def check_has_backbone(name: str, model_kwargs: dict) -> None:
    """Refuse, with the reason, a model config that is no backbone + decode
    head segmentor."""
    if model_kwargs.get('backbone') is None:
        raise ValueError(
            f'{name} attaches to segmentors built from a backbone and decode '
            "head(s) (mmseg's EncoderDecoder and CascadeEncoderDecoder); "
            f'this model config has {sorted(model_kwargs)} instead (e.g. an '
            'open-vocabulary MultimodalEncoderDecoder, whose image and text '
            'encoders classify mask proposals against text, not pixels): '
            'DSRL does not apply to it')


@MODELS.register_module()
class LRInputEncoderDecoder(EncoderDecoder):
    """Low-resolution-input baseline of DSRL.

    Identical to :class:`mmseg.models.EncoderDecoder` except that the
    backbone is fed the (already normalised) image downsampled by
    ``input_scale`` (bilinear, anti-aliased). The decode head's scores are
    upsampled bilinearly to the label size in training and to the image
    size in inference, as usual; so this is the "same LR input, plain
    bilinear upsampling" baseline every DSRL number is compared against.

    .. code:: text

        extract_feat(): downsample_image(inputs, input_scale) -> backbone
                        -> neck (optional)

    A config whose base is a :class:`mmseg.models.CascadeEncoderDecoder`
    (``num_stages`` and a list of decode heads: OCRNet, PointRend) builds
    :class:`LRInputCascadeEncoderDecoder` from the same ``type``, so the
    override is the same for both kinds of segmentor.

    Args:
        input_scale (float): Scale of the backbone input, in (0, 1].
            Default 0.5.
        **kwargs: Arguments of :class:`mmseg.models.EncoderDecoder` (or of
            :class:`mmseg.models.CascadeEncoderDecoder`).
    """

    # The class a config with ``num_stages`` builds; set on each class for
    # itself (a subclass does not inherit its parent's cascade variant).
    cascade_variant: type = None

    def __new__(cls, *args, **kwargs):
        variant = cls.__dict__.get('cascade_variant')
        if variant is not None and is_cascade_config(kwargs):
            cls = variant
        return super().__new__(cls)

    def __init__(self, *args, input_scale: float = 0.5, **kwargs) -> None:
        if not args:
            check_has_backbone(type(self).__name__, kwargs)
        self.input_scale = check_input_scale(input_scale)
        super().__init__(*args, **kwargs)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Features of the image downsampled by ``input_scale``."""
        return super().extract_feat(downsample_image(inputs, self.input_scale))


@MODELS.register_module()
class LRInputCascadeEncoderDecoder(LRInputEncoderDecoder,
                                   CascadeEncoderDecoder):
    """:class:`LRInputEncoderDecoder` for cascade configs (OCRNet,
    PointRend): mmseg's ``CascadeEncoderDecoder`` on the downsampled image.

    Built by ``type='LRInputEncoderDecoder'`` when the config has
    ``num_stages``.
    """


LRInputEncoderDecoder.cascade_variant = LRInputCascadeEncoderDecoder
