"""Shared by the DDP-equivalence test and its worker: the model, the batch
and one forward / backward."""
import torch
from dsrl_test_utils import seg_batch, tiny_segmentor_cfg
from torch.nn.modules.batchnorm import _BatchNorm

BATCH = 4


def build_model():
    import mmseg_dsrl  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(tiny_segmentor_cfg())
    model.train()
    # BatchNorm in eval mode: per-process batch statistics would differ
    # from the full batch's (SyncBN cannot synchronise CPU tensors).
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.eval()
    return model


def fixed_batch():
    """No ignored pixels: every image weighs the same in every mean."""
    return seg_batch(batch=BATCH, h=64, w=96, ignore_frac=0.0)


def losses_and_grads(model, inputs, samples):
    losses = model(inputs, samples, mode='loss')
    losses = {k: v for k, v in losses.items() if 'loss' in k}
    sum(losses.values()).backward()
    inner = getattr(model, 'module', model)
    grads = {n: p.grad.detach().clone() for n, p in inner.named_parameters()}
    return {k: v.detach().clone() for k, v in losses.items()}, grads
