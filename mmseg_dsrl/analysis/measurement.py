"""Model building, complexity and latency measurement for the tools."""
import contextlib
import random
import statistics
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.hooks import Hook
from torch import nn

from mmseg_dsrl.utils.inference_model import build_inference_model  # noqa: F401,E501 (re-exported for the tools)


def random_inputs(model: nn.Module,
                  shape: Tuple[int, int],
                  batch_size: int = 1) -> torch.Tensor:
    """A normalised random batch as the data preprocessor would make it
    (padded as its ``test_cfg`` says, e.g. to a ``size_divisor``)."""
    from mmseg.structures import SegDataSample
    data = dict(
        inputs=[
            torch.randint(0, 256, (3, *shape), dtype=torch.uint8)
            for _ in range(batch_size)
        ],
        # the preprocessor records padding in the samples when it pads
        data_samples=[SegDataSample() for _ in range(batch_size)])
    return model.data_preprocessor(data, False)['inputs']


def executed_parameter_count(model: nn.Module, inputs: torch.Tensor) -> int:
    """Parameters of the modules that run in ``model(inputs)`` (tensor mode).

    Training-only branches (auxiliary heads, DSRL's SISR head and FA
    transform) do not run at inference and are not counted.
    """
    ran: List[nn.Module] = []
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: ran.append(mod))
        for m in model.modules()
    ]
    try:
        with torch.no_grad():
            model(inputs, mode='tensor')
    finally:
        for h in hooks:
            h.remove()
    seen = set()
    total = 0
    for module in ran:
        for p in module.parameters(recurse=False):
            if id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
    return total


def inference_complexity(model: nn.Module,
                         shape: Tuple[int, int]) -> Dict[str, float]:
    """FLOPs (multiply-adds, mmengine's convention) and parameters of the
    inference graph (``mode='tensor'``) for one image of ``shape``."""
    from mmengine.analysis import FlopAnalyzer
    inputs = random_inputs(model, shape)

    class _TensorMode(nn.Module):

        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x, mode='tensor')

    analyzer = FlopAnalyzer(_TensorMode(model), (inputs, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    with torch.no_grad():
        flops = analyzer.total()
    return dict(
        flops=float(flops),
        params=float(executed_parameter_count(model, inputs)),
        all_params=float(sum(p.numel() for p in model.parameters())))


def time_inference(model: nn.Module,
                   shape: Tuple[int, int],
                   warmup: int = 2,
                   runs: int = 10,
                   batch_size: int = 1,
                   mode: str = 'tensor') -> Dict[str, float]:
    """Latency of ``model`` on random input: ``warmup`` untimed runs, then
    ``runs`` timed ones (CUDA synchronised when on a GPU).

    Args:
        mode (str): 'tensor' (network only) or 'predict' (with the resize
            to the image and argmax of mmseg's post-processing).

    Returns:
        dict: median / min / max / stdev seconds and images per second.
    """
    device = next(model.parameters()).device
    inputs = random_inputs(model, shape, batch_size).to(device)
    return time_runner(lambda x: model(x, mode=mode), inputs, warmup, runs)


def time_runner(runner: Callable[[torch.Tensor], object],
                inputs: torch.Tensor,
                warmup: int = 2,
                runs: int = 10) -> Dict[str, float]:
    """Latency of ``runner(inputs)``: ``warmup`` untimed calls, then
    ``runs`` timed ones (CUDA synchronised when ``inputs`` is on a GPU).

    Returns:
        dict: median / min / max / stdev seconds and images per second.
    """
    cuda = inputs.device.type == 'cuda'

    def once() -> float:
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        runner(inputs)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    times = []
    with torch.no_grad():
        for _ in range(warmup):
            once()
        for _ in range(runs):
            times.append(once())
    median = statistics.median(times)
    return dict(
        median=median,
        min=min(times),
        max=max(times),
        stdev=statistics.stdev(times) if len(times) > 1 else 0.0,
        images_per_s=inputs.shape[0] / median)


def round_robin_times(calls: Dict[str, Callable[[], object]],
                      rounds: int,
                      warmup: int = 1,
                      cuda: bool = False,
                      shuffle_seed: Optional[int] = None,
                      no_grad: bool = True) -> Dict[str, List[float]]:
    """Seconds of every call in ``calls``, timed round-robin: ``warmup``
    untimed rounds, then ``rounds`` rounds that call each entry once, so
    machine drift hits every entry alike (CUDA synchronised if ``cuda``).

    Args:
        calls (dict): Name -> a callable that runs one step.
        rounds (int): Timed rounds.
        warmup (int): Untimed rounds first.
        cuda (bool): Synchronise CUDA around each timed call.
        shuffle_seed (int, optional): None calls the entries in the dict's
            order every round. A seed shuffles the order anew each round
            (warm-up rounds too): the first call of a round can run at
            another speed than later ones (training steps on the 2-core
            CPU: 1-4 % slower), which a fixed order charges to one entry.
        no_grad (bool): Run the calls under ``torch.no_grad()`` (inference
            timing); False for training steps.

    Returns:
        dict: name -> list of ``rounds`` durations; entry i of every list
        is from round i.
    """
    times: Dict[str, List[float]] = {k: [] for k in calls}
    order = list(calls)
    rng = random.Random(shuffle_seed)
    with torch.no_grad() if no_grad else contextlib.nullcontext():
        for i in range(warmup + rounds):
            if shuffle_seed is not None:
                rng.shuffle(order)
            for name in order:
                if cuda:
                    torch.cuda.synchronize()
                start = time.perf_counter()
                calls[name]()
                if cuda:
                    torch.cuda.synchronize()
                if i >= warmup:
                    times[name].append(time.perf_counter() - start)
    return times


def paired_ratios(times: Dict[str, List[float]], base: str) -> List[dict]:
    """Median time and paired ratio to ``base`` of each entry.

    Args:
        times (dict): Output of :func:`round_robin_times` (seconds).
        base (str): The entry the ratios are to.

    Returns:
        list[dict]: Per entry, in ``times``' order: ``name``, ``ms``
        (median), ``ratio`` (median over rounds of the entry's time divided
        by ``base``'s time in the same round, so drift between rounds
        cancels) and ``ratio_q1`` / ``ratio_q3`` (quartiles of those
        per-round ratios: the spread of the measurement).
    """
    rows = []
    for name, ts in times.items():
        ratios = [t / b for t, b in zip(ts, times[base])]
        q1, _, q3 = (statistics.quantiles(ratios, n=4, method='inclusive')
                     if len(ratios) > 1 else ratios * 3)
        rows.append(
            dict(
                name=name,
                ms=statistics.median(ts) * 1e3,
                ratio=statistics.median(ratios),
                ratio_q1=q1,
                ratio_q3=q3))
    return rows


class IterationEndTimes(Hook):
    """Records ``time.perf_counter()`` at the end of every training
    iteration (after every other hook: priority LOWEST)."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.ends: List[float] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self.ends.append(time.perf_counter())


def seconds_per_iteration(ends: List[float], skip: int) -> float:
    """Median wall time between consecutive iteration ends, leaving out
    the iterations up to and including iteration ``skip`` (1-based)."""
    durations = [b - a for a, b in zip(ends, ends[1:])][max(skip - 1, 0):]
    if not durations:
        raise ValueError(f'{len(ends)} iterations leave no duration to time '
                         f'after skipping {skip}')
    return statistics.median(durations)


def matmul_rate(size: int = 2048,
                repeats: int = 5,
                dtype: torch.dtype = torch.float32,
                device: str = 'cpu') -> float:
    """Best FLOP/s of a (size x size) @ (size x size) product: the machine's
    matrix-product rate, the denominator of a compute bound. On CUDA, TF32
    is off (what float32 code gets) and every call is synchronised."""
    cuda = device.startswith('cuda')
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        a = torch.randn(size, size, dtype=dtype, device=device)
        b = torch.randn(size, size, dtype=dtype, device=device)
        a @ b  # warm-up
        best = float('inf')
        for _ in range(repeats):
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            a @ b
            if cuda:
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    return 2 * size**3 / best
