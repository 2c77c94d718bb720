"""ONNX Runtime inference server on stdin / stdout, run as a script.

``python ort_worker.py MODEL.onnx THREADS`` reads arrays from stdin (frames
of :func:`write_frame`), runs MODEL on each and writes its first output back
the same way, until stdin closes. It imports only NumPy and ONNX Runtime, so
that it starts quickly under an emulator (:mod:`mmseg_dsrl.export.
emulated_cpu` runs it under ``qemu-x86_64 -cpu ...`` to see what ONNX
Runtime computes on another CPU).
"""
import io
import struct
import sys
from typing import BinaryIO, Optional

import numpy as np


def write_frame(stream: BinaryIO, array: np.ndarray) -> None:
    """``array`` as its byte length (8 bytes) and its ``.npy`` bytes."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    data = buffer.getvalue()
    stream.write(struct.pack('<Q', len(data)) + data)
    stream.flush()


def read_frame(stream: BinaryIO) -> Optional[np.ndarray]:
    """The next array of ``stream``, or None at its end."""

    def read(n: int) -> bytes:
        data = b''
        while len(data) < n:
            chunk = stream.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    head = read(8)
    if not head:
        return None
    (size, ) = struct.unpack('<Q', head)
    data = read(size)
    if len(data) != size:
        raise EOFError(f'a frame of {size} bytes ended after {len(data)}')
    return np.load(io.BytesIO(data), allow_pickle=False)


def cpu_session(model: str, threads: int):
    """ONNX Runtime's CPU session of ``model`` as every runner here builds
    it: ``threads`` intra-op threads, all graph optimisations."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, options,
                                providers=['CPUExecutionProvider'])


def main(argv: list) -> int:
    session = cpu_session(argv[0], int(argv[1]))
    name = session.get_inputs()[0].name
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # One byte once the session exists, so the caller's first request does
    # not wait on a worker that failed to start.
    stdout.write(b'R')
    stdout.flush()
    while (x := read_frame(stdin)) is not None:
        (y, *_) = session.run(None, {name: x})
        write_frame(stdout, y)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
