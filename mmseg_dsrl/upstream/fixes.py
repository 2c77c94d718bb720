"""The work-arounds for the pinned stack (README, Installation), one function
each.

:mod:`mmseg_dsrl.upstream` registers each with the upstream versions that
have the bug and applies it on ``import mmseg_dsrl``. Checkpoint loading
and saving (torch's weights-only default against mmengine's runner
checkpoints) live in :mod:`.checkpoint_safety`.
"""
import functools
import sys

import torch


def _cuda_less() -> bool:
    from mmengine.device import (
        is_mlu_available,
        is_musa_available,
        is_npu_available,
    )
    return not (torch.cuda.is_available() or is_mlu_available()
                or is_npu_available() or is_musa_available())


def allow_cpu_distributed_training() -> None:
    """Let mmengine's pytorch launcher and DDP wrapper run without CUDA.

    mmengine 0.10.7 calls ``torch.cuda.set_device`` before
    ``init_process_group`` and wraps the model with
    ``device_ids=[LOCAL_RANK]``; both fail on a machine without CUDA, so
    ``torchrun ... --launcher pytorch`` cannot train on CPUs (gloo). On such a
    machine only, the process group is initialised without the device call
    (gloo instead of an impossible nccl, logged) and the DDP wrapper gets
    ``device_ids=None``, as torch requires for CPU modules. With CUDA,
    nothing changes.
    """
    import mmengine.dist.utils as dist_utils
    from mmengine.logging import print_log
    from mmengine.runner import Runner

    original_init = dist_utils._init_dist_pytorch
    original_wrap = Runner.wrap_model
    if getattr(original_init, '_mmseg_dsrl_patched', False):
        return

    def init_dist_pytorch(backend, init_backend='torch', **kwargs):
        if not _cuda_less() or init_backend != 'torch':
            return original_init(backend, init_backend=init_backend, **kwargs)
        if backend == 'nccl':
            print_log(
                'no CUDA device: distributed backend nccl -> gloo',
                logger='current')
            backend = 'gloo'
        torch.distributed.init_process_group(backend=backend, **kwargs)

    def wrap_model(self, model_wrapper_cfg, model):
        if (model_wrapper_cfg is None and self.distributed and _cuda_less()):
            model_wrapper_cfg = dict(
                type='MMDistributedDataParallel',
                device_ids=None,
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get('find_unused_parameters',
                                                    False))
        return original_wrap(self, model_wrapper_cfg, model)

    init_dist_pytorch._mmseg_dsrl_patched = True
    dist_utils._init_dist_pytorch = init_dist_pytorch
    Runner.wrap_model = wrap_model


def leave_process_group() -> None:
    """End a distributed run cleanly (no-op when not distributed).

    Without it a rank that finished its work can abort at interpreter exit
    ("terminate called without an active exception": 2 of 9 two-process
    CPU runs of the demo config with gloo, 0 of 12 with it). The barrier
    keeps rank 0, which hosts the store, alive until every rank leaves.
    """
    if torch.distributed.is_available() and \
            torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def fix_weighted_cross_entropy_with_ignore() -> None:
    """Let mmseg's CrossEntropyLoss combine ``class_weight`` and ignored
    pixels, and compute it in float32 under mixed precision.

    Two faults of mmseg 1.2.2's ``cross_entropy`` (used by
    ``CrossEntropyLoss(use_sigmoid=False, use_mask=False)``):

    * it normalises a class-weighted mean by ``class_weight[label]`` summed
      over *all* pixels: a label holding the ignore index (255: padding,
      CamVid's void) raises IndexError. The wrapper passes the normaliser
      PyTorch's ``F.cross_entropy(weight=...)`` uses -- the weights of the
      non-ignored pixels -- so mmseg skips its broken branch. Without
      ignored pixels the value is the same as before.
    * under fp16 autocast the logits are float16, ``CrossEntropyLoss``
      builds ``class_weight`` in their dtype, and the normaliser (a sum of
      one weight per pixel: 345600 pixels for two CamVid frames) overflows
      float16's 65504 to inf: the loss becomes 0 (or NaN in mmseg's own
      branch) and the model trains without it, silently. The wrapper
      computes the whole loss in (at least) float32 (logits, weights, normaliser) with
      autocast off, as mmseg's other losses do for their sums; the result
      is float32, which autocast and ``AmpOptimWrapper`` expect of a loss.
      In float32 this changes nothing.
    """
    from mmseg.models.losses import cross_entropy_loss as ce_module
    original = ce_module.cross_entropy
    if getattr(original, '_mmseg_dsrl_patched', False):
        return

    def cross_entropy(pred,
                      label,
                      weight=None,
                      class_weight=None,
                      reduction='mean',
                      avg_factor=None,
                      ignore_index=-100,
                      avg_non_ignore=False):
        with torch.autocast(device_type=pred.device.type, enabled=False):
            dtype = torch.promote_types(pred.dtype, torch.float32)
            pred = pred.to(dtype)
            if class_weight is not None:
                class_weight = class_weight.to(dtype)
            if weight is not None:
                weight = weight.to(dtype)
            if (class_weight is not None and avg_factor is None
                    and reduction == 'mean'):
                valid = label != ignore_index
                avg_factor = class_weight[label[valid]].sum()
            return original(pred, label, weight, class_weight, reduction,
                            avg_factor, ignore_index, avg_non_ignore)

    cross_entropy._mmseg_dsrl_patched = True
    ce_module.cross_entropy = cross_entropy


def let_get_flops_pass_inputs() -> None:
    """Make mmseg 1.2.2's packaged ``tools/analysis_tools/get_flops.py``
    work with mmengine >= 0.7.3.

    The tool calls ``get_model_complexity_info(model, input_shape,
    inputs=data['inputs'])``; mmengine 0.10.7 refuses both arguments at once
    ("input_shape" and "inputs" cannot be both set), so the tool fails on
    every config. With ``inputs`` given, ``input_shape`` is redundant (the
    tool builds the inputs from it), so the wrapper drops it; calls with
    only one of the two behave exactly as before. The wrapper replaces the
    name in ``mmengine.analysis`` and its ``print_helper`` module, and in a
    running script that bound it before the plugin was imported (the tool
    does ``from mmengine.analysis import ...`` at its top and imports the
    plugin later, through its config's ``custom_imports``): there only when
    the script's name still refers to mmengine's own function.
    """
    from mmengine import analysis
    from mmengine.analysis import print_helper
    original = print_helper.get_model_complexity_info
    if getattr(original, '_mmseg_dsrl_patched', False):
        return

    @functools.wraps(original)
    def get_model_complexity_info(model,
                                  input_shape=None,
                                  inputs=None,
                                  show_table=True,
                                  show_arch=True):
        if inputs is not None:
            input_shape = None
        return original(model, input_shape, inputs, show_table, show_arch)

    get_model_complexity_info._mmseg_dsrl_patched = True
    main = sys.modules.get('__main__')
    for module in (print_helper, analysis, main):
        if getattr(module, 'get_model_complexity_info', None) is original:
            module.get_model_complexity_info = get_model_complexity_info
