"""Per-operator profile of an ONNX graph in ONNX Runtime: where the time of
the deployed model goes, and how far each operator is from the machine's
matrix-product rate."""
import json
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

#: Operators whose arithmetic is counted (multiply-adds x 2); the rest move
#: or combine data and are reported with their time only.
_CONV_OPS = ('Conv', 'FusedConv', 'NchwcConv', 'QLinearConv', 'ConvInteger')


def _shapes(entries: Sequence[dict]) -> List[Optional[List[int]]]:
    """``[{'float': [1, 3, 8, 8]}, ...]`` -> ``[[1, 3, 8, 8], ...]``."""
    return [next(iter(e.values()), None) if e else None for e in entries]


def _graph_weights(onnx_path: str) -> Dict[str, Dict[str, object]]:
    """For every node of the exported graph: its op type, attributes, the
    names of its inputs and outputs and the shapes of its initializer
    inputs (what ORT's profile leaves out where it pre-packs weights, e.g.
    ConvTranspose, or pads, e.g. NCHWc convolutions)."""
    import onnx
    model = onnx.load(onnx_path, load_external_data=False)
    inits = {i.name: list(i.dims) for i in model.graph.initializer}
    nodes = {}
    for node in model.graph.node:
        nodes[node.name] = dict(
            op=node.op_type,
            inputs=list(node.input),
            outputs=list(node.output),
            weights=[inits.get(name) for name in node.input],
            attrs={a.name: onnx.helper.get_attribute_value(a)
                   for a in node.attribute})
    return nodes


# Operators ORT fuses into a preceding convolution (activations, the
# residual Add/Sum of its NCHWc kernels).
_FUSED_AFTER_CONV = ('Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'HardSigmoid',
                     'Tanh', 'Add', 'Sum')


def definition_node(name: str, graph: Dict[str, Dict[str, object]],
                    profiled: Sequence[str]) -> Optional[dict]:
    """The node of the exported graph that a profiled node executes.

    ORT keeps the graph's names, except where its NCHWc layout transformer
    rewrites a convolution (and the activation or Add fused into it): that
    node is named after the tensor it produces plus ``_nchwc``, and the
    profile reports its weights with the channels padded to the block size
    (8 with AVX2, 16 with AVX-512). Such a node is traced back from that
    tensor through the fused operators (not into tensors that another
    profiled node makes) to the one convolution that is not profiled under
    its own name.

    Returns:
        dict | None: the graph node, None where none is found.
    """
    if name in graph:
        return graph[name]
    if not name.endswith('_nchwc'):
        return None
    producers = {out: n for n in graph.values() for out in n['outputs']}
    own_names = set(profiled)
    by_identity = {id(n): k for k, n in graph.items()}
    start = name[:-len('_nchwc')]
    frontier = [start]
    found = []
    while frontier:
        tensor = frontier.pop()
        if tensor != start and f'{tensor}_nchwc' in own_names:
            continue  # made by another profiled node (e.g. a residual input)
        node = producers.get(tensor)
        if node is None:
            continue
        if node['op'] in _CONV_OPS:
            if by_identity[id(node)] not in own_names:
                found.append(node)
        elif node['op'] in _FUSED_AFTER_CONV:
            frontier.extend(node['inputs'])
    return found[0] if len(found) == 1 else None


def node_flops(op: str, inputs: Sequence[Optional[List[int]]],
               outputs: Sequence[Optional[List[int]]],
               graph_node: Optional[dict] = None) -> float:
    """Floating-point operations (multiply and add counted apart) of one
    executed node; 0 for operators without products."""
    out = outputs[0] if outputs else None
    if op in _CONV_OPS or op == 'ConvTranspose':
        # The graph's weight first: the profile's may be padded (NCHWc).
        graph_weights = (graph_node or {}).get('weights') or []
        weight = graph_weights[1] if len(graph_weights) > 1 else None
        if weight is None or len(weight) != 4:
            weight = inputs[1] if len(inputs) > 1 else None
        if weight is None or len(weight) != 4 or out is None \
                or inputs[0] is None:
            return 0.0
        if op == 'ConvTranspose':
            # weight (Cin, Cout / g, kh, kw): every input pixel is spread
            # over a kh x kw window of each of its group's outputs.
            n, cin = inputs[0][0], weight[0]
            pixels = int(np.prod(inputs[0][2:]))
            return 2.0 * n * cin * pixels * int(np.prod(weight[1:]))
        # weight (Cout, Cin / g, kh, kw) per output pixel
        n, cout = out[0], weight[0]
        return 2.0 * n * cout * int(np.prod(out[2:])) * int(
            np.prod(weight[1:]))
    if op in ('MatMul', 'Gemm', 'FusedMatMul') and len(inputs) > 1:
        a, b = inputs[0], inputs[1]
        if a is None or b is None or out is None:
            return 0.0
        k = a[-1] if op != 'Gemm' or not (graph_node or {}).get(
            'attrs', {}).get('transA') else a[0]
        return 2.0 * int(np.prod(out)) * k
    return 0.0


def profile_onnx(onnx_path: str, x: np.ndarray, runs: int,
                 threads: int, work_dir: str) -> List[dict]:
    """Run ``onnx_path`` ``runs + 1`` times with ORT's profiler (the first,
    warm-up run is dropped) and return one entry per executed node: name,
    op, mean milliseconds per run, FLOPs per run."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(work_dir, 'ort_profile')
    session = ort.InferenceSession(
        onnx_path, options, providers=['CPUExecutionProvider'])
    name = session.get_inputs()[0].name
    for _ in range(runs + 1):
        session.run(None, {name: x})
    with open(session.end_profiling()) as f:
        events = json.load(f)
    run_spans = sorted((e['ts'], e['ts'] + e['dur']) for e in events
                       if e.get('cat') == 'Session'
                       and e.get('name') == 'model_run')
    if len(run_spans) != runs + 1:
        raise RuntimeError(f'ORT profiled {len(run_spans)} runs, expected '
                           f'{runs + 1}')
    first_end = run_spans[0][1]
    graph = _graph_weights(onnx_path)
    kernel_events = [
        e for e in events if e.get('cat') == 'Node'
        and e['name'].endswith('_kernel_time') and e['ts'] > first_end
    ]  # the warm-up run left out
    profiled = {e['name'][:-len('_kernel_time')] for e in kernel_events}
    nodes: Dict[str, dict] = {}
    for e in kernel_events:
        args = e['args']
        node_name = e['name'][:-len('_kernel_time')]
        entry = nodes.get(node_name)
        if entry is None:
            op = args.get('op_name', '?')
            entry = nodes[node_name] = dict(
                name=node_name,
                op=op,
                times_us=[],
                flops=node_flops(op, _shapes(args.get('input_type_shape', [])),
                                 _shapes(args.get('output_type_shape', [])),
                                 definition_node(node_name, graph, profiled)))
        entry['times_us'].append(e['dur'])
    out = []
    for entry in nodes.values():
        times = entry.pop('times_us')
        entry['ms'] = sum(times) / runs / 1e3
        entry['calls_per_run'] = len(times) / runs
        out.append(entry)
    return sorted(out, key=lambda n: -n['ms'])


def op_type_rows(nodes: Sequence[dict], rate: float) -> List[dict]:
    """Per operator type: ms per run, share of the node time, GFLOPs, the
    achieved rate and its fraction of ``rate`` (FLOP/s), slowest first."""
    total = sum(n['ms'] for n in nodes) or 1.0
    by_op: Dict[str, dict] = {}
    for n in nodes:
        row = by_op.setdefault(n['op'], dict(op=n['op'], nodes=0, ms=0.0,
                                             flops=0.0))
        row['nodes'] += 1
        row['ms'] += n['ms']
        row['flops'] += n['flops']
    rows = []
    for row in by_op.values():
        achieved = row['flops'] / (row['ms'] / 1e3) if row['ms'] else 0.0
        rows.append(dict(row, share=row['ms'] / total * 100,
                         gflops=row['flops'] / 1e9,
                         achieved_gflops_s=achieved / 1e9,
                         of_rate=achieved / rate if rate else 0.0,
                         bound_ms=row['flops'] / rate * 1e3 if rate else 0.0))
    return sorted(rows, key=lambda r: -r['ms'])
