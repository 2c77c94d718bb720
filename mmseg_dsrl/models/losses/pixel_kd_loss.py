"""Pixel-wise distillation loss (Liu et al., "Structured Knowledge
Distillation for Semantic Segmentation", CVPR 2019)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .utils import check_loss_args


def pixel_kd_loss(student_logits: Tensor,
                  teacher_logits: Tensor,
                  temperature: float = 1.0,
                  reduction: str = 'mean') -> Tensor:
    """``T^2 KL(softmax(t / T) || softmax(s / T))`` per pixel.

    Computed in float32 with autocast off (a float16 log-softmax over few
    classes loses the small probabilities the divergence is made of).

    Args:
        student_logits (Tensor): Class scores, shape (B, K, H, W).
        teacher_logits (Tensor): Class scores of the same shape (no gradient
            is taken through them).
        temperature (float): Softmax temperature T.
        reduction (str): 'none' (per pixel, shape (B, H, W)), 'mean' (over
            pixels and batch) or 'sum'.

    Returns:
        Tensor: The loss.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            'pixel-wise distillation compares class scores position by '
            f'position: student {tuple(student_logits.shape)} vs teacher '
            f'{tuple(teacher_logits.shape)}')
    with torch.autocast(student_logits.device.type, enabled=False):
        log_s = F.log_softmax(student_logits.float() / temperature, dim=1)
        log_t = F.log_softmax(
            teacher_logits.detach().float() / temperature, dim=1)
        kl = (log_t.exp() * (log_t - log_s)).sum(dim=1) * temperature**2
    if reduction == 'mean':
        return kl.mean()
    if reduction == 'sum':
        return kl.sum()
    return kl


@MODELS.register_module()
class PixelKDLoss(nn.Module):
    """Pixel-wise knowledge distillation: the student's class distribution
    at every pixel is pulled to the teacher's (KL divergence, softened by a
    temperature and scaled by its square, as in Hinton et al.).

    Args:
        temperature (float): Softmax temperature, > 0. Default 1.0 (the
            structured-KD paper's pixel-wise term).
        reduction (str): 'none', 'mean' or 'sum'. Default 'mean'.
        loss_weight (float): Weight of the loss. Default 1.0.
        loss_name (str): Name in the logs; must start with 'loss_'.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_pixel') -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature!r}')
        check_loss_args(reduction, loss_name)
        self.temperature = float(temperature)
        self.reduction = reduction
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
        """The weighted loss; see :func:`pixel_kd_loss`."""
        return self.loss_weight * pixel_kd_loss(
            student_logits, teacher_logits, self.temperature, self.reduction)

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, '
                f'loss_weight={self.loss_weight}')
