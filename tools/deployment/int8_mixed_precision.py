"""INT8 within an mIoU budget: the fewest least-accurate tensors kept fp32.

Exports CONFIG + CKPT at the val images' size, quantizes it (static QDQ,
calibrated on the first --calibration-images of --calibration-dir) and ranks
its quantized tensors by their own quantization error (SQNR against fp32 on
--sqnr-images calibration frames, lowest first). Then, for each k of
--counts, keeps the k worst tensors in fp32 (their producer and consumers
stay unquantized) and scores the graph on a selection set, stopping at the
first k whose mIoU is within --budget of eager fp32 on that set. The
selection set is the config's val loader with --select-cfg-options applied
(choose on other images than the ones you report on), the first
--select-images of it. The chosen graph, plain INT8 and fp32 are then
scored on the whole val set and timed on one input (median of
--latency-runs).

Example (CamVid: choose on the training frames of sequence 0001TP, report
on val):
    python tools/deployment/int8_mixed_precision.py CONFIG CKPT \\
        --data-root ../shared/datasets/camvid \\
        --calibration-dir ../shared/datasets/camvid/train \\
        --select-cfg-options val_dataloader.dataset.data_prefix.img_path=train \\
            val_dataloader.dataset.data_prefix.seg_map_path=trainannot \\
            "val_dataloader.dataset.sequences=[0001TP]" \\
        --out int8_mixed.json
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

from mmengine.config import DictAction

from mmseg_dsrl.analysis.cli import non_negative_int, positive_int

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--backend', choices=('onnxruntime', 'openvino'),
                        default='onnxruntime')
    parser.add_argument('--data-root')
    parser.add_argument('--calibration-dir', required=True)
    parser.add_argument('--calibration-images', type=positive_int,
                        default=100)
    parser.add_argument('--sqnr-images', type=positive_int, default=8)
    parser.add_argument('--counts', type=non_negative_int, nargs='+',
                        default=[0, 1, 2, 4, 8, 16, 32],
                        help='numbers of worst tensors to keep fp32, tried '
                        'in increasing order')
    parser.add_argument('--budget', type=float, default=0.5,
                        help='largest mIoU loss accepted on the selection '
                        'set')
    parser.add_argument('--select-cfg-options', nargs='+', action=DictAction,
                        default={}, help='what makes the selection set out '
                        'of the config\'s val loader')
    parser.add_argument('--select-images', type=positive_int, default=None)
    parser.add_argument('--latency-runs', type=positive_int, default=20)
    parser.add_argument('--work-dir', help='where the graphs go (default: a '
                        'temporary folder)')
    parser.add_argument('--out', help='write the results (JSON) here')
    args = parser.parse_args(argv)
    if args.budget < 0:
        parser.error(f'--budget must be >= 0, got {args.budget}')
    if args.sqnr_images > args.calibration_images:
        parser.error(f'--sqnr-images {args.sqnr_images} exceeds '
                     f'--calibration-images {args.calibration_images}')
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            parser.error(f'{path} is not a file')
    if args.out and osp.exists(args.out):
        parser.error(f'--out {args.out} exists; choose another file')
    return args


def median_ms(run, x, runs: int) -> float:
    run(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, REPO)
    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.configs import load_config, use_bn_without_cuda
    from mmseg_dsrl.analysis.deployed_evaluation import (evaluate_runner,
                                                         first_val_inputs)
    from mmseg_dsrl.analysis.inference_backends import (InferencePath,
                                                        build_runner)
    from mmseg_dsrl.analysis.int8_sensitivity import (activation_sqnr,
                                                      fewest_fp32_tensors,
                                                      fp32_nodes_for)
    from mmseg_dsrl.analysis.measurement import build_inference_model
    from mmseg_dsrl.analysis.runs import provenance, set_data_root
    from mmseg_dsrl.export.quantization import read_calibration_images

    def config(options):
        cfg = load_config(args.config, options or None)
        use_bn_without_cuda(cfg)
        if args.data_root:
            set_data_root(cfg, args.data_root)
        return cfg

    cfg, select_cfg = config({}), config(args.select_cfg_options)
    model = build_inference_model(cfg, args.checkpoint)
    example = first_val_inputs(cfg, model)
    calibration = read_calibration_images(args.calibration_dir,
                                          args.calibration_images,
                                          tuple(example.shape[2:]),
                                          model.data_preprocessor)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='dsrl_int8_mixed_')
    os.makedirs(work_dir, exist_ok=True)

    def runner(fp32_tensors=None):
        if fp32_tensors is None:
            return build_runner(model, InferencePath(args.backend), example,
                                work_dir)
        nodes = fp32_nodes_for(osp.join(work_dir, 'model.onnx'),
                               fp32_tensors) if fp32_tensors else ()
        path = InferencePath(args.backend, 'int8', fp32_nodes=nodes)
        return build_runner(model, path, example, work_dir, calibration)

    eager = build_runner(model, InferencePath(), example)
    runner()  # exports model.onnx
    runner([])  # writes model_int8.onnx
    ranking = activation_sqnr(osp.join(work_dir, 'model.onnx'),
                              osp.join(work_dir, 'model_int8.onnx'),
                              calibration[:args.sqnr_images])
    ranked = [r['tensor'] for r in ranking]
    counts = [k for k in args.counts if k <= len(ranked)]

    def select_score(tensors):
        return evaluate_runner(select_cfg, model, runner(tensors),
                               args.select_images)['mIoU']

    select_eager = float(evaluate_runner(select_cfg, model, eager,
                                         args.select_images)['mIoU'])
    steps = fewest_fp32_tensors(select_score, ranked, counts, select_eager,
                                args.budget)
    for s in steps:
        print(f'[int8_mixed] {s["k"]:3d} tensors fp32: selection mIoU '
              f'{s["score"]:.2f} ({-s["loss"]:+.2f})', flush=True)
    chosen = steps[-1] if steps[-1]['within_budget'] else None
    report = {'eager': eager, f'{args.backend} fp32': runner(),
              f'{args.backend} int8': runner([])}
    if chosen is not None and chosen['k']:
        report[f'{args.backend} int8, {chosen["k"]} tensors fp32'] = runner(
            chosen['tensors'])
    val, latency = {}, {}
    for name, run in report.items():
        val[name] = float(evaluate_runner(cfg, model, run)['mIoU'])
        latency[name] = median_ms(run, example, args.latency_runs)
        print(f'[int8_mixed] {name}: val mIoU {val[name]:.2f}, '
              f'{latency[name]:.1f} ms', flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(
                config=args.config, checkpoint=args.checkpoint,
                backend=args.backend, shape=list(example.shape[2:]),
                calibration_dir=args.calibration_dir,
                calibration_images=args.calibration_images,
                sqnr_images=args.sqnr_images, budget=args.budget,
                select_cfg_options=args.select_cfg_options,
                select_images=args.select_images,
                select_eager_mIoU=select_eager, steps=[
                    dict(s, nodes=list(fp32_nodes_for(
                        osp.join(work_dir, 'model.onnx'), s['tensors'])))
                    for s in steps
                ], chosen_k=None if chosen is None else chosen['k'],
                val_mIoU=val, latency_ms=latency,
                latency_runs=args.latency_runs, ranking=ranking[:40],
                provenance=provenance()),
                f, indent=2)
    return 0 if chosen is not None else 1


if __name__ == '__main__':
    sys.exit(main())
