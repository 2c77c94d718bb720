"""Run an ONNX graph on ONNX Runtime as another x86 CPU would.

ONNX Runtime picks its kernels by the instructions the CPU reports, and for
INT8 the choice changes results, not only speed: without VNNI its uint8 x
int8 products use an instruction that adds each pair of products into 16
bits and saturates there, so an INT8 graph that is exact on a CPU with VNNI
can lose accuracy on one without it. :func:`emulated_onnx_runner` runs the
graph under QEMU's user-mode emulator with the CPU model you name
(``qemu-x86_64 -cpu Haswell``: AVX2, no AVX-512, no VNNI), which reports
only that model's instructions, so ONNX Runtime takes the kernels it takes
there. Emulation is slow (tens of times native) and says nothing about
speed; use it for accuracy.

Needs ``qemu-x86_64`` (Debian / Ubuntu: ``apt-get install qemu-user``).
"""
import atexit
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
from typing import Callable

import torch
from torch import Tensor

from .ort_worker import read_frame, write_frame

#: The CPU the ``*-emulated-avx2`` inference paths emulate: AVX2 and FMA,
#: no AVX-512, no VNNI.
AVX2_CPU = 'Haswell'
_WORKER = osp.join(osp.dirname(osp.abspath(__file__)), 'ort_worker.py')


def qemu_cpu_models(qemu: str) -> set:
    """The ``-cpu`` names ``qemu`` accepts."""
    # It lists them and exits 1.
    out = subprocess.run([qemu, '-cpu', 'help'], capture_output=True,
                         text=True).stdout
    return {line.split()[1] for line in out.splitlines()
            if line.startswith('x86 ') and len(line.split()) > 1}


def emulated_onnx_runner(onnx_path: str, cpu: str = AVX2_CPU,
                         threads: int = 1) -> Callable[[Tensor], Tensor]:
    """``x -> first output`` of ``onnx_path`` on ONNX Runtime under
    ``qemu-x86_64 -cpu cpu``.

    Args:
        onnx_path (str): The graph (one input).
        cpu (str): A QEMU x86 CPU model (``qemu-x86_64 -cpu help`` lists
            them). Default :data:`AVX2_CPU`.
        threads (int): ONNX Runtime's intra-op threads.

    Returns:
        Callable[[Tensor], Tensor]: Runs one batch in the emulated process
        (started once, stopped when the interpreter exits).

    Raises:
        RuntimeError: Where ``qemu-x86_64`` is not installed or the worker
            does not start (its error output is quoted).
        ValueError: Where QEMU has no CPU model ``cpu``.
    """
    qemu = shutil.which('qemu-x86_64')
    if qemu is None:
        raise RuntimeError(
            'running ONNX Runtime as another CPU needs qemu-x86_64 (Debian / '
            'Ubuntu: apt-get install qemu-user)')
    models = qemu_cpu_models(qemu)
    if cpu not in models:
        raise ValueError(f'QEMU has no x86 CPU model {cpu!r}; '
                         f'`qemu-x86_64 -cpu help` lists {len(models)}, e.g. '
                         f'{sorted(models)[:5]}')
    # This interpreter by the path it was started with (a virtual
    # environment's python is a link; resolved, it would lose the
    # environment's packages).
    python = sys.executable
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [qemu, '-cpu', cpu, python, _WORKER, onnx_path, str(threads)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
    if proc.stdout.read(1) != b'R':
        proc.wait()
        errors.seek(0)
        err = errors.read().decode(errors='replace')
        # QEMU warns about every feature of a model it does not emulate.
        err = '\n'.join(line for line in err.splitlines()
                        if 'TCG doesn' not in line)
        raise RuntimeError(f'the ONNX Runtime worker under qemu-x86_64 -cpu '
                           f'{cpu} did not start:\n{err[-2000:]}')
    def stop() -> None:
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(timeout=60)

    atexit.register(stop)

    def run_emulated(x: Tensor) -> Tensor:
        write_frame(proc.stdin, x.numpy())
        y = read_frame(proc.stdout)
        if y is None:
            raise RuntimeError(f'the ONNX Runtime worker under qemu-x86_64 '
                               f'-cpu {cpu} stopped (exit code '
                               f'{proc.wait()})')
        return torch.from_numpy(y)

    run_emulated.stop = stop
    return run_emulated
