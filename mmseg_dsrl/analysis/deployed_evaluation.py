"""Accuracy of a deployed model: a runner's logits through mmseg's own
post-processing and the config's evaluator, on the config's val set."""
from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import Tensor, nn


def _val_loader(cfg: Config):
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    loader_cfg = cfg.val_dataloader.to_dict() if hasattr(
        cfg.val_dataloader, 'to_dict') else dict(cfg.val_dataloader)
    loader_cfg.update(num_workers=0, persistent_workers=False)
    return Runner.build_dataloader(loader_cfg)


def segmentation_metrics(cfg: Config) -> list:
    """``cfg.val_evaluator`` without the metrics a deployed graph cannot
    feed (it returns logits only: no SISR reconstruction for
    ``SISRQualityMetric``)."""
    metrics = cfg.val_evaluator
    if isinstance(metrics, dict):
        metrics = [metrics]
    return [m for m in metrics if m.get('type') != 'SISRQualityMetric']


def first_val_inputs(cfg: Config, model: nn.Module) -> Tensor:
    """The preprocessed first val batch: the input size a deployed graph
    is exported at."""
    batch = next(iter(_val_loader(cfg)))
    return model.data_preprocessor(batch, False)['inputs']


def evaluate_runner(cfg: Config,
                    model: nn.Module,
                    run: Callable[[Tensor], Tensor],
                    max_images: Optional[int] = None) -> Dict[str, float]:
    """Evaluate ``run`` (``images -> logits``, e.g. an ONNX Runtime or
    OpenVINO runner of :func:`~.inference_backends.build_runner`) on
    ``cfg.val_dataloader`` with the segmentation metrics of
    ``cfg.val_evaluator`` (mmseg's ``IoUMetric`` and the configs' other
    metrics; :func:`segmentation_metrics`).

    Each batch goes through ``model``'s data preprocessor, then ``run``;
    the logits are resized to the network input (bilinear, the model's
    ``align_corners``, as the decode heads' ``predict`` does) and handed to
    ``model.postprocess_result`` (padding removed, resized to the original
    image), so the eager runner gives the model's own ``predict`` results.

    Args:
        cfg (Config): The model's config (dataset paths already set).
        model (nn.Module): The segmentor (preprocessing, post-processing).
        run (callable): The deployed inference graph.
        max_images (int, optional): Stop after this many images.

    Returns:
        dict: The evaluator's metrics (``mIoU``, ``IoU.<class>``, ...).
    """
    from mmengine.evaluator import Evaluator
    loader = _val_loader(cfg)
    evaluator = Evaluator(segmentation_metrics(cfg))
    evaluator.dataset_meta = loader.dataset.metainfo
    align_corners = getattr(model, 'align_corners', False)
    seen = 0
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            inputs = data['inputs']
            logits = run(inputs).float()
            if logits.shape[2:] != inputs.shape[2:]:
                logits = F.interpolate(
                    logits,
                    size=inputs.shape[2:],
                    mode='bilinear',
                    align_corners=align_corners)
            results = model.postprocess_result(logits, data['data_samples'])
            evaluator.process(results)
            seen += len(results)
            if max_images is not None and seen >= max_images:
                break
    return evaluator.evaluate(seen)
