"""A frozen full-resolution segmentor that a DSRL student distils from."""
import os.path as osp
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...utils.typing_utils import OptConfigType

_MEAN_STD_TOLERANCE = 1e-3


class HRTeacher:
    """Resolution distillation: a segmentor trained at full resolution (the
    teacher) guides the HR class scores of a DSRL student fed the LR image.

    DSRL's Feature Affinity loss transfers structure from an RGB
    reconstruction; an HR *segmentation* model knows more about what the
    student should predict. The teacher sees the HR image the student's
    input is made from and, frozen, gives its class scores at HR; the
    student's HR class scores (what its SSSR head predicts with) are pulled
    to them by

    - ``pixel_loss``: pixel-wise KL divergence (:class:`PixelKDLoss`),
    - ``pair_loss``: pair-wise affinity distillation, which is DSRL's FA
      with a real teacher (:class:`FeatureAffinityLoss` between the two
      score maps),

    the two terms of Liu et al., "Structured Knowledge Distillation for
    Semantic Segmentation" (CVPR 2019).

    The teacher is not a submodule of the student: it is built and its
    checkpoint read at the first training step (so configs that carry the
    block build and run inference without the teacher's files), it is not
    in the student's ``state_dict`` or checkpoints, the optimizer, DDP's
    gradient reduction or the inference graph, and it stays in eval mode.

    Args:
        config (str): Path of the teacher's mmseg config (its ``model`` is
            built). It must segment the same classes and normalise images
            the same way as the student.
        checkpoint (str): The teacher's trained weights (loaded strictly).
        pixel_loss (dict, optional): Config of the pixel-wise loss, e.g.
            ``dict(type='PixelKDLoss', loss_weight=1.0)``. None: off.
        pair_loss (dict, optional): Config of the pair-wise loss, e.g.
            ``dict(type='FeatureAffinityLoss', loss_name='loss_pair')``.
            None: off.
        num_classes (int, optional): The student's classes, checked against
            the teacher config's.
        mean, std (sequence of float, optional): The student's
            normalisation, checked against the teacher config's.
    """

    def __init__(self,
                 config: str,
                 checkpoint: str,
                 pixel_loss: OptConfigType = None,
                 pair_loss: OptConfigType = None,
                 num_classes: Optional[int] = None,
                 mean=None,
                 std=None) -> None:
        from mmengine.config import Config
        if pixel_loss is None and pair_loss is None:
            raise ValueError('hr_teacher needs pixel_loss and/or pair_loss: '
                             'with neither the teacher would teach nothing')
        if not isinstance(checkpoint, str) or not checkpoint:
            raise ValueError(f'hr_teacher.checkpoint must be the path of the '
                             f"teacher's weights, got {checkpoint!r}")
        if not isinstance(config, str) or not osp.isfile(config):
            raise FileNotFoundError(
                f'hr_teacher.config={config!r}: no such config file (the '
                "teacher's mmseg config, e.g. the full-resolution config "
                'its checkpoint was trained with)')
        self.config = config
        self.checkpoint = checkpoint
        self.model_cfg = Config.fromfile(config).model
        self._check_compatible(num_classes, mean, std)
        self.pixel_loss: Optional[nn.Module] = \
            MODELS.build(pixel_loss) if pixel_loss is not None else None
        self.pair_loss: Optional[nn.Module] = \
            MODELS.build(pair_loss) if pair_loss is not None else None
        names = [
            loss.loss_name for loss in (self.pixel_loss, self.pair_loss)
            if loss is not None
        ]
        if len(set(names)) != len(names):
            raise ValueError(f'hr_teacher: pixel_loss and pair_loss must log '
                             f'under different loss_name, both are '
                             f'{names[0]!r}')
        self._model: Optional[nn.Module] = None

    def _check_compatible(self, num_classes: Optional[int], mean,
                          std) -> None:
        """The teacher must classify the student's classes and read images
        normalised as the student's are (it gets the student's HR input)."""
        head = self.model_cfg.get('decode_head')
        if isinstance(head, (list, tuple)):
            head = head[-1]
        teacher_classes = (head or {}).get('num_classes')
        if (num_classes is not None and teacher_classes is not None
                and teacher_classes != num_classes):
            raise ValueError(
                f'hr_teacher.config={self.config!r} segments '
                f'{teacher_classes} classes, the student {num_classes}')
        pre = self.model_cfg.get('data_preprocessor') or {}
        for name, student in (('mean', mean), ('std', std)):
            teacher = pre.get(name)
            if student is None or teacher is None:
                continue
            student = [float(v) for v in torch.as_tensor(student).flatten()]
            teacher = [float(v) for v in teacher]
            if len(student) != len(teacher) or any(
                    abs(a - b) > _MEAN_STD_TOLERANCE
                    for a, b in zip(student, teacher)):
                raise ValueError(
                    f'hr_teacher.config={self.config!r} normalises images '
                    f'with {name}={teacher}, the student with {student}: the '
                    "teacher reads the student's normalised HR input, so "
                    'they must agree')

    @property
    def model(self) -> Optional[nn.Module]:
        """The frozen teacher (None until the first training step)."""
        return self._model

    def _build(self, device: torch.device) -> nn.Module:
        from mmengine.runner import load_checkpoint
        if not osp.isfile(self.checkpoint):
            raise FileNotFoundError(
                f'hr_teacher.checkpoint={self.checkpoint!r}: no such file '
                "(the teacher's trained weights, e.g. the iter_N.pth of a "
                f'run of {self.config!r})')
        model = MODELS.build(self.model_cfg)
        load_checkpoint(model, self.checkpoint, map_location='cpu',
                        strict=True, logger='current')
        return model.eval().requires_grad_(False).to(device)

    @torch.no_grad()
    def scores(self, inputs: Tensor) -> Tensor:
        """The teacher's class scores for normalised HR images ``inputs``
        (B, 3, H, W), at (H, W)."""
        if self._model is None:
            self._model = self._build(inputs.device)
        elif next(self._model.parameters()).device != inputs.device:
            self._model.to(inputs.device)
        self._model.eval()
        size = tuple(inputs.shape[2:])
        metas = [dict(img_shape=size, pad_shape=size, ori_shape=size)
                 ] * inputs.shape[0]
        return self._model.encode_decode(inputs, metas)

    def losses(self, student_scores: Tensor, inputs: Tensor,
               align_corners: bool = False) -> Dict[str, Tensor]:
        """The distillation terms for one training step, at the HR image
        size.

        Args:
            student_scores (Tensor): The student's class scores as its SSSR
                head outputs them, (B, K, h, w); brought to the HR size
                bilinearly, as its cross-entropy does.
            inputs (Tensor): The normalised HR images the student's LR input
                was made from, (B, 3, H, W).
            align_corners (bool): The student's, for that resize.

        Returns:
            dict[str, Tensor]: One term per configured loss, under its
            ``loss_name``.
        """
        teacher_scores = self.scores(inputs)
        size = tuple(inputs.shape[2:])
        if tuple(student_scores.shape[2:]) != size:
            student_scores = F.interpolate(
                student_scores,
                size=size,
                mode='bilinear',
                align_corners=align_corners)
        teacher_scores = teacher_scores.to(student_scores.dtype)
        out = {}
        if self.pixel_loss is not None:
            out[self.pixel_loss.loss_name] = self.pixel_loss(
                student_scores, teacher_scores)
        if self.pair_loss is not None:
            out[self.pair_loss.loss_name] = self.pair_loss(
                student_scores, teacher_scores)
        return out

    def __repr__(self) -> str:
        return (f'HRTeacher(config={self.config!r}, '
                f'checkpoint={self.checkpoint!r}, '
                f'pixel_loss={self.pixel_loss!r}, '
                f'pair_loss={self.pair_loss!r})')
