"""mmseg's IoUMetric with each class's IoU in the returned metrics."""
from typing import Dict

from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric``, plus each class's IoU as ``IoU.<class>``
    (percent, NaN for classes absent from predictions and labels).

    Args:
        **kwargs: Those of ``mmseg.evaluation.IoUMetric``.
    """

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        columns = tuple(zip(*results))
        intersect, union = sum(columns[0]), sum(columns[1])
        iou = (intersect / union).tolist()
        for name, value in zip(self.dataset_meta['classes'], iou):
            metrics[f'IoU.{name}'] = round(value * 100, 2)
        return metrics
