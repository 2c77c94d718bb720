"""Ways to run a segmentor's inference graph, and their accuracy check.

An :class:`InferencePath` names a backend (eager PyTorch, ONNX Runtime or
OpenVINO), a precision (INT8: the exported graph quantized with calibration
images, :mod:`mmseg_dsrl.export.quantization`) and the PyTorch options (channels-last memory format,
``torch.compile``). :func:`build_runner` turns a model into a function
``images -> float32 logits`` for one path, so that tools time and check every
path the same way; :func:`agreement` compares its logits with eager fp32 on
the same input, so a faster number never hides a wrong one.

The graph is what runs in ``mode='tensor'`` (the logits before mmseg's
resize to the image and argmax), the part every backend runs.
"""
import copy
import hashlib
import os.path as osp
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..export.emulated_cpu import AVX2_CPU, emulated_onnx_runner
from ..export.onnx import TensorModeWrapper, export_onnx
from ..export.ort_worker import cpu_session

BACKENDS = ('pytorch', 'onnxruntime', 'openvino')
PRECISIONS = ('fp32', 'fp16', 'bf16', 'int8')
_ONNX_PRECISIONS = {'onnxruntime': ('fp32', 'int8'),
                    'openvino': ('fp32', 'bf16', 'int8')}
_DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16}
#: How INT8 activation ranges are calibrated (ONNX Runtime's methods).
CALIBRATIONS = ('minmax', 'percentile', 'entropy')
#: Which operators INT8 quantizes: 'all' (ONNX Runtime's default set, data
#: movement and elementwise operators included) or 'conv' (the products:
#: Conv, ConvTranspose, MatMul, Gemm; everything between them in fp32).
INT8_SCOPES = ('all', 'conv')
_INT8_OP_TYPES = {'all': None,
                  'conv': ('Conv', 'ConvTranspose', 'MatMul', 'Gemm')}


@dataclass(frozen=True)
class InferencePath:
    """One way of running the inference graph.

    Args:
        backend (str): 'pytorch' (eager, or compiled with ``compile``),
            'onnxruntime' or 'openvino' (both run the graph exported by
            :func:`export_onnx`, on the CPU).
        precision (str): 'fp32'; 'bf16' (PyTorch autocast, or OpenVINO's
            inference precision where the CPU has bf16 instructions);
            'fp16' (autocast, CUDA only: PyTorch's CPU half convolutions are
            reference loops); 'int8' (ONNX Runtime / OpenVINO running the
            INT8 graph of static post-training quantization).
        channels_last (bool): NHWC memory format for weights and input.
        compile (bool): ``torch.compile`` (inductor) the graph.
        calibration (str): INT8 only: how activation ranges are set from
            the calibration images: 'minmax' (the observed range),
            'percentile' (clips the top 0.001 % of each tensor's magnitudes)
            or 'entropy' (the range that keeps the histogram's KL divergence
            smallest).
        int8_scope (str): INT8 only: 'all' operators ONNX Runtime quantizes
            by default, or 'conv' (the products only; see
            :data:`INT8_SCOPES`).
        fp32_nodes (tuple[str]): INT8 only: names of nodes of the exported
            graph that stay fp32 (e.g. from
            :func:`mmseg_dsrl.analysis.int8_sensitivity.fp32_nodes_for`).
        dynamic_hw (bool): ONNX backends only: run the graph exported with
            dynamic height and width (``export_onnx(..., dynamic_hw=True)``:
            the LR input's downsampling as ONNX ``Resize(antialias=1)``
            instead of the traced size's filters).
        reduce_range (bool): INT8 only: weights in 7 bits (see
            :func:`mmseg_dsrl.export.quantization.quantize_int8`), for CPUs
            without VNNI, where ONNX Runtime's 8-bit products can saturate.
        emulate_cpu (str, optional): ONNX Runtime only: run the graph
            under QEMU as this x86 CPU model (e.g. 'Haswell': AVX2, no
            VNNI), to see what ONNX Runtime computes there
            (:mod:`mmseg_dsrl.export.emulated_cpu`); for accuracy, not
            speed.
    """
    backend: str = 'pytorch'
    precision: str = 'fp32'
    channels_last: bool = False
    compile: bool = False
    calibration: str = 'minmax'
    int8_scope: str = 'all'
    fp32_nodes: Tuple[str, ...] = ()
    dynamic_hw: bool = False
    reduce_range: bool = False
    emulate_cpu: Optional[str] = None

    @property
    def name(self) -> str:
        parts = [self.backend, self.precision]
        if self.channels_last:
            parts.append('channels-last')
        if self.compile:
            parts.append('compile')
        if self.calibration != 'minmax':
            parts.append(self.calibration)
        if self.int8_scope != 'all':
            parts.append(f'{self.int8_scope} only')
        if self.fp32_nodes:
            parts.append(f'{len(self.fp32_nodes)} nodes fp32')
        if self.dynamic_hw:
            parts.append('dynamic H/W')
        if self.reduce_range:
            parts.append('reduce-range')
        if self.emulate_cpu:
            parts.append(f'on {self.emulate_cpu} (emulated)')
        return ' '.join(parts)

    def check(self, device: str) -> None:
        """Raise ValueError for a combination that cannot run on
        ``device``, naming the offending option."""
        if self.backend not in BACKENDS:
            raise ValueError(f'backend must be one of {BACKENDS}, got '
                             f'{self.backend!r}')
        if self.precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {PRECISIONS}, got '
                             f'{self.precision!r}')
        if self.backend in _ONNX_PRECISIONS:
            allowed = _ONNX_PRECISIONS[self.backend]
            if self.precision not in allowed:
                raise ValueError(
                    f'{self.backend} runs the exported graph in {allowed}, '
                    f'got precision={self.precision!r}')
            if self.channels_last or self.compile:
                raise ValueError(
                    f'{self.backend} runs the exported graph; channels_last='
                    f'{self.channels_last}, compile={self.compile} are '
                    'PyTorch options')
            if device != 'cpu':
                raise ValueError(f'the {self.backend} backend here runs on the '
                                 f'CPU, got device={device!r}')
        elif self.precision == 'int8':
            raise ValueError('int8 runs the quantized exported graph: use '
                             'backend onnxruntime or openvino')
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f'calibration must be one of {CALIBRATIONS}, '
                             f'got {self.calibration!r}')
        if self.calibration != 'minmax' and self.precision != 'int8':
            raise ValueError(f'calibration={self.calibration!r} sets INT8 '
                             f'ranges; precision is {self.precision!r}')
        if self.int8_scope not in INT8_SCOPES:
            raise ValueError(f'int8_scope must be one of {INT8_SCOPES}, got '
                             f'{self.int8_scope!r}')
        if self.int8_scope != 'all' and self.precision != 'int8':
            raise ValueError(f'int8_scope={self.int8_scope!r} chooses what '
                             f'INT8 quantizes; precision is '
                             f'{self.precision!r}')
        if self.dynamic_hw and self.backend not in _ONNX_PRECISIONS:
            raise ValueError('dynamic_hw chooses how the ONNX graph is '
                             f'exported; backend is {self.backend!r}')
        if self.fp32_nodes and self.precision != 'int8':
            raise ValueError(f'fp32_nodes keeps nodes of an INT8 graph in '
                             f'fp32; precision is {self.precision!r}')
        if self.emulate_cpu and self.backend != 'onnxruntime':
            raise ValueError('emulate_cpu runs ONNX Runtime under QEMU; '
                             f'backend is {self.backend!r}')
        if self.reduce_range and self.precision != 'int8':
            raise ValueError('reduce_range quantizes INT8 weights to 7 bits; '
                             f'precision is {self.precision!r}')
        if self.precision == 'fp16' and device == 'cpu':
            raise ValueError('precision fp16 needs a CUDA device (CPU half '
                             'convolutions are slow reference kernels); use '
                             'bf16 on the CPU')


def check_openvino_graph(onnx_path: str) -> None:
    """Refuse graphs OpenVINO would run differently from PyTorch.

    OpenVINO (2026.4, CPU) computes ONNX ``Resize`` with ``antialias=1``
    unlike PyTorch's anti-aliased bilinear resize (and ONNX Runtime): on a
    unit-variance 360x480 image downsampled by 2 the largest difference was
    1.2 (ONNX Runtime: 2e-7). The LR baselines and DSRL downsample their
    input that way, so on OpenVINO they would see another image.
    """
    import onnx
    for node in onnx.load(onnx_path).graph.node:
        if node.op_type == 'Resize' and any(
                a.name == 'antialias' and a.i == 1 for a in node.attribute):
            raise ValueError(
                'this graph has an anti-aliased Resize (the LR input '
                'downsampling of DSRL / LR-baseline models), which OpenVINO '
                'computes differently from PyTorch (max difference 1.2 on a '
                'unit-variance image); use the onnxruntime backend for it')


def _openvino_runner(onnx_path: str,
                     precision: str) -> Callable[[Tensor], Tensor]:
    import openvino as ov
    core = ov.Core()
    caps = core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES')
    if precision == 'bf16' and 'BF16' not in caps:
        raise ValueError(f'this CPU has no bf16 instructions (OpenVINO '
                         f'reports {caps}); use fp32 or int8')
    config = {
        'INFERENCE_NUM_THREADS': torch.get_num_threads(),
        'PERFORMANCE_HINT': 'LATENCY',
        # An INT8 graph keeps its quantized ops; the rest runs in fp32.
        'INFERENCE_PRECISION_HINT': 'bf16' if precision == 'bf16' else 'f32',
    }
    compiled = core.compile_model(core.read_model(onnx_path), 'CPU', config)
    request = compiled.create_infer_request()

    def run_openvino(x: Tensor) -> Tensor:
        outputs = request.infer({0: x.numpy()})
        return torch.from_numpy(outputs[compiled.output(0)].copy())

    return run_openvino


#: The paths the deployment tools take by name.
NAMED_PATHS = {
    'eager': InferencePath(),
    'channels-last': InferencePath(channels_last=True),
    'bf16': InferencePath(precision='bf16'),
    'bf16-channels-last': InferencePath(precision='bf16', channels_last=True),
    'compile': InferencePath(compile=True),
    'compile-channels-last': InferencePath(compile=True, channels_last=True),
    'onnxruntime': InferencePath('onnxruntime'),
    'onnxruntime-int8': InferencePath('onnxruntime', 'int8'),
    'onnxruntime-int8-percentile': InferencePath(
        'onnxruntime', 'int8', calibration='percentile'),
    'onnxruntime-int8-entropy': InferencePath(
        'onnxruntime', 'int8', calibration='entropy'),
    'onnxruntime-int8-conv': InferencePath(
        'onnxruntime', 'int8', int8_scope='conv'),
    'onnxruntime-dynamic-hw': InferencePath('onnxruntime', dynamic_hw=True),
    'onnxruntime-int8-dynamic-hw': InferencePath(
        'onnxruntime', 'int8', dynamic_hw=True),
    'onnxruntime-int8-reduce-range': InferencePath(
        'onnxruntime', 'int8', reduce_range=True),
    # What ONNX Runtime computes on a CPU without VNNI (emulated: accuracy
    # only, see mmseg_dsrl.export.emulated_cpu).
    'onnxruntime-emulated-avx2': InferencePath(
        'onnxruntime', emulate_cpu=AVX2_CPU),
    'onnxruntime-int8-emulated-avx2': InferencePath(
        'onnxruntime', 'int8', emulate_cpu=AVX2_CPU),
    'onnxruntime-int8-reduce-range-emulated-avx2': InferencePath(
        'onnxruntime', 'int8', reduce_range=True, emulate_cpu=AVX2_CPU),
    'openvino': InferencePath('openvino'),
    'openvino-bf16': InferencePath('openvino', 'bf16'),
    'openvino-int8': InferencePath('openvino', 'int8'),
    'openvino-int8-percentile': InferencePath(
        'openvino', 'int8', calibration='percentile'),
    'fp16': InferencePath(precision='fp16'),
}


def build_runner(
        model: nn.Module,
        path: InferencePath,
        example: Tensor,
        work_dir: Optional[str] = None,
        calibration: Optional[Sequence[Tensor]] = None
) -> Callable[[Tensor], Tensor]:
    """``images -> float32 logits`` of ``model`` (eval mode) along ``path``.

    Args:
        model (nn.Module): A segmentor on the device of ``example``.
        path (InferencePath): How to run it.
        example (Tensor): An input of the shape the runner will get (the
            ONNX graph is exported at it, with a dynamic batch axis).
        work_dir (str, optional): Where the ONNX files go (a temporary
            folder by default).
        calibration (Sequence[Tensor], optional): Preprocessed images that
            calibrate the INT8 ranges; required for precision 'int8'.
    """
    device = example.device.type
    path.check(device)
    model = model.eval()
    if path.backend in _ONNX_PRECISIONS:
        folder = work_dir or tempfile.mkdtemp(prefix='dsrl_onnx_')
        stem = 'model_dynamic-hw' if path.dynamic_hw else 'model'
        onnx_path = osp.join(folder, f'{stem}.onnx')
        if not osp.isfile(onnx_path):
            export_onnx(model, example.cpu(), onnx_path,
                        dynamic_hw=path.dynamic_hw)
        if path.precision == 'int8':
            if not calibration:
                raise ValueError(
                    'precision int8 needs calibration images (preprocessed, '
                    'e.g. a hundred training frames) to set the activation '
                    'ranges')
            from ..export.quantization import quantize_int8
            suffix = ''.join(
                f'_{v}' for v, default in (
                    (path.calibration, 'minmax'), (path.int8_scope, 'all'),
                    ('reduce-range' if path.reduce_range else '', ''))
                if v != default)
            if path.fp32_nodes:
                digest = hashlib.sha256(
                    '\n'.join(path.fp32_nodes).encode()).hexdigest()[:12]
                suffix += f'_fp32-{digest}'
            int8_path = osp.join(folder, f'{stem}_int8{suffix}.onnx')
            if not osp.isfile(int8_path):
                quantize_int8(onnx_path, calibration, int8_path,
                              method=path.calibration,
                              op_types=_INT8_OP_TYPES[path.int8_scope],
                              nodes_to_exclude=path.fp32_nodes,
                              reduce_range=path.reduce_range)
            onnx_path = int8_path
        if path.backend == 'openvino':
            check_openvino_graph(onnx_path)
            return _openvino_runner(onnx_path, path.precision)
        if path.emulate_cpu:
            return emulated_onnx_runner(onnx_path, path.emulate_cpu,
                                        torch.get_num_threads())
        session = cpu_session(onnx_path, torch.get_num_threads())

        def run_onnx(x: Tensor) -> Tensor:
            (logits, ) = session.run(None, {'input': x.numpy()})
            return torch.from_numpy(logits)

        return run_onnx

    graph: nn.Module = TensorModeWrapper(model).eval()
    memory_format = torch.preserve_format
    if path.channels_last:
        memory_format = torch.channels_last
        # A copy: Module.to() works in place and other runners share model.
        graph = copy.deepcopy(graph).to(memory_format=memory_format)
    if path.compile:
        # One input shape per runner: static shapes. Automatic dynamic shapes
        # would re-trace frames that see several sizes (ESPNetv2's pyramid
        # pooling) symbolically, which inductor's adaptive pooling cannot
        # lower.
        graph = torch.compile(graph, dynamic=False)
    dtype = _DTYPES.get(path.precision)

    @torch.no_grad()
    def run_pytorch(x: Tensor) -> Tensor:
        x = x.contiguous(memory_format=memory_format)
        if dtype is None:
            return graph(x).float()
        with torch.autocast(device_type=device, dtype=dtype):
            return graph(x).float()

    return run_pytorch


def int8_matmul_rate(backend: str,
                     size: int = 1024,
                     repeats: int = 5,
                     work_dir: Optional[str] = None,
                     spatial: int = 32) -> float:
    """Best INT8 FLOP/s of ``backend``'s quantized matrix product, in the
    form convnets use it: a 1x1 convolution, ``size`` to ``size``
    channels, on a (1, size, spatial, spatial) map (a GEMM of
    spatial^2 x size by size x size: 2 spatial^2 size^2 operations),
    exported and quantized as the models are (QDQ, per-channel weights),
    run by 'onnxruntime' or 'openvino'. The denominator of an INT8 path's
    compute bound. (A plain 2-D MatMul is not a fair probe: OpenVINO folds
    its weight dequantisation and multiplies in fp32.)"""
    import time

    if backend not in _ONNX_PRECISIONS:
        raise ValueError(f'backend must be onnxruntime or openvino, got '
                         f'{backend!r}')
    from ..export.quantization import quantize_int8

    folder = work_dir or tempfile.mkdtemp(prefix='dsrl_gemm_')
    fp32, int8 = (osp.join(folder, f'conv1x1_{size}_{p}.onnx')
                  for p in ('fp32', 'int8'))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, size, spatial, spatial, generator=g)
    if not osp.isfile(int8):
        conv = nn.Conv2d(size, size, 1, bias=False).eval()
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g))
        torch.onnx.export(
            conv, (x, ),
            fp32,
            opset_version=17,
            input_names=['input'],
            output_names=['out'],
            dynamo=False)
        quantize_int8(fp32, [x], int8)
    if backend == 'openvino':
        run = _openvino_runner(int8, 'int8')
    else:
        session = cpu_session(int8, torch.get_num_threads())
        array = x.numpy()

        def run(_: Tensor) -> None:
            session.run(None, {'input': array})

    run(x)  # warm-up
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        run(x)
        best = min(best, time.perf_counter() - start)
    return 2 * spatial**2 * size**2 / best


def agreement(reference: Tensor, logits: Tensor) -> Dict[str, float]:
    """How far ``logits`` are from ``reference`` (eager fp32), same input.

    Returns:
        dict: ``label_agreement`` (% of pixels with the same argmax) and
        ``max_abs_diff`` (largest |logit difference|).
    """
    if reference.shape != logits.shape:
        raise ValueError(f'logits of shape {tuple(logits.shape)} cannot be '
                         f'compared with {tuple(reference.shape)}')
    reference, logits = reference.float().cpu(), logits.float().cpu()
    same = (reference.argmax(1) == logits.argmax(1)).float().mean()
    return dict(
        label_agreement=float(same) * 100,
        max_abs_diff=float((reference - logits).abs().max()))
