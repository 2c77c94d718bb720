"""ICNet segmentor with test-time early exit."""
from typing import List

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...utils.typing_utils import ConfigType, OptSampleList
from ..backbones import check_exit


@MODELS.register_module()
class ICNetSegmentor(EncoderDecoder):
    """ICNet (ECCV 2018) with cascade label guidance and early exit.

    `ICNet for Real-Time Semantic Segmentation on High-Resolution Images
    <https://arxiv.org/abs/1704.08545>`_.

    ``backbone`` is an :class:`ICNetCascadeBackbone`; ``decode_head`` the
    final :class:`CascadeGuidanceHead` (x2, classify at 1/4); and
    ``auxiliary_head`` the two guidance heads of the CFFs
    ``[sub4 head (1/16), sub24 head (1/8)]``, weighted 0.16 and 0.4 by
    default. Training is EncoderDecoder's (all three losses, labels
    downsampled to each output). At test time ``test_cfg.exit`` picks the
    output:

    .. code:: text

        'sub4':   sub2 trunk + sub4 branch          -> auxiliary_head[0]
        'sub24':  + CFF(sub4, sub2)                 -> auxiliary_head[1]
        'sub124': + sub1 branch + CFF(., sub1)      -> decode_head (default)

    and the backbone computes nothing beyond what that output needs. The
    exit is read at call time, so it can be switched on a loaded model
    (``model.test_cfg.exit = 'sub24'``) or with
    ``--cfg-options model.test_cfg.exit=sub24``.
    """

    def __init__(self, backbone: ConfigType, decode_head: ConfigType,
                 **kwargs) -> None:
        if kwargs.get('neck') is not None:
            raise ValueError('ICNetSegmentor fuses its branches in the '
                             'backbone and takes no neck')
        super().__init__(backbone=backbone, decode_head=decode_head, **kwargs)
        exit = check_exit(self.exit)
        if exit != 'sub124':
            self._exit_head()  # fail at build if the head is missing
        self._check_head_channels()

    def _check_head_channels(self) -> None:
        """Each head must read as many channels as its cascade output has
        (a width multiplier changes them), else fail now, not at forward."""
        widths = getattr(self.backbone, 'out_channels', None)
        if widths is None:
            return
        heads = [('decode_head', self.decode_head)]
        aux = getattr(self, 'auxiliary_head', None)
        if isinstance(aux, nn.ModuleList):
            heads += [(f'auxiliary_head[{i}]', h) for i, h in enumerate(aux)]
        elif aux is not None:
            heads.append(('auxiliary_head', aux))
        for name, head in heads:
            idx = getattr(head, 'in_index', None)
            if not isinstance(idx, int):
                continue
            expected = widths[idx]
            if head.in_channels != expected:
                raise ValueError(
                    f'{name} reads cascade output {idx} with {expected} '
                    f'channels (backbone out_channels={tuple(widths)}) but '
                    f'has in_channels={head.in_channels}: set '
                    f'in_channels={expected}')

    @property
    def exit(self) -> str:
        return (self.test_cfg or {}).get('exit', 'sub124')

    def _exit_head(self) -> nn.Module:
        exit = check_exit(self.exit)
        if exit == 'sub124':
            return self.decode_head
        heads = getattr(self, 'auxiliary_head', None)
        if not isinstance(heads, nn.ModuleList) or len(heads) != 2:
            raise ValueError(
                f"exit '{exit}' classifies with the guidance heads: "
                'auxiliary_head must be the list [sub4 head, sub24 head]')
        return heads[0] if exit == 'sub4' else heads[1]

    def _exit_features(self, inputs: Tensor) -> List[Tensor]:
        return self.backbone(inputs, exit=self.exit)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Scores of the selected exit, resized to the image."""
        return self._exit_head().predict(
            self._exit_features(inputs), batch_img_metas, self.test_cfg)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Raw scores of the selected exit (1/16, 1/8 or 1/4)."""
        return self._exit_head().forward(self._exit_features(inputs))
