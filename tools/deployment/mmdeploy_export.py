"""Export a config with mmdeploy 1.3.1 and check the graph against PyTorch.

Runs ``mmdeploy.apis.torch2onnx`` inside
``mmseg_dsrl.export.mmdeploy_compat.mmdeploy_export_compatible()`` (the
TorchScript exporter mmdeploy needs, the plugin's opset-18 symbolics) with
an ONNX Runtime deploy config (default: the opset-18 one next to this
tool), then runs the exported graph with ONNX Runtime on the image as
mmdeploy preprocesses it and compares its logits with the PyTorch model's
(resized to the graph's output, as mmdeploy's graph does): max logit
difference and label agreement. Exit 1 below --min-agreement.

mmdeploy pins onnx 1.17 and protobuf 3.20, older than this project's
stack: install it in its own environment (docs/deployment.md#mmdeploy).

Example:
    python tools/deployment/mmdeploy_export.py CONFIG CKPT IMAGE \\
        --work-dir work_dirs/mmdeploy_icnet
"""
import argparse
import os
import os.path as osp
import sys

HERE = osp.dirname(osp.abspath(__file__))
DEPLOY_CFG = osp.join(HERE, 'mmdeploy_configs',
                      'segmentation_onnxruntime_opset18_static.py')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('image', help='an image to export and check with')
    parser.add_argument('--deploy-cfg', default=DEPLOY_CFG)
    parser.add_argument('--work-dir', required=True,
                        help='new or empty folder for end2end.onnx')
    parser.add_argument('--min-agreement', type=float, default=99.9)
    args = parser.parse_args(argv)
    for path in (args.config, args.checkpoint, args.image, args.deploy_cfg):
        if not osp.isfile(path):
            parser.error(f'{path} is not a file')
    if osp.isdir(args.work_dir) and os.listdir(args.work_dir):
        parser.error(f'--work-dir {args.work_dir} is not empty')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import onnxruntime as ort
    import torch
    import torch.nn.functional as F
    from mmdeploy.apis import torch2onnx
    from mmdeploy.apis.utils import build_task_processor
    from mmengine.config import Config

    import mmseg_dsrl  # noqa: F401
    from mmseg_dsrl.analysis.inference_backends import agreement
    from mmseg_dsrl.export.mmdeploy_compat import mmdeploy_export_compatible
    with mmdeploy_export_compatible():
        torch2onnx(args.image, args.work_dir, 'end2end.onnx',
                   args.deploy_cfg, args.config, args.checkpoint,
                   device='cpu')
    onnx_path = osp.join(args.work_dir, 'end2end.onnx')
    task = build_task_processor(
        Config.fromfile(args.config), Config.fromfile(args.deploy_cfg),
        'cpu')
    model = task.build_pytorch_model(args.checkpoint)
    _, inputs = task.create_input(args.image)
    x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    x = (x if x.dim() == 4 else x[None]).float()
    session = ort.InferenceSession(
        onnx_path, providers=['CPUExecutionProvider'])
    logits = torch.from_numpy(
        session.run(None, {'input': x.numpy()})[0])
    with torch.no_grad():
        reference = model(x, mode='tensor')
    reference = F.interpolate(
        reference, size=logits.shape[2:], mode='bilinear',
        align_corners=getattr(model, 'align_corners', False))
    result = agreement(reference, logits)
    print(f'{onnx_path}: max |logit PyTorch - ONNX Runtime| = '
          f'{result["max_abs_diff"]:.2e}, labels agree on '
          f'{result["label_agreement"]:.3f} % of pixels')
    return 0 if result['label_agreement'] >= args.min_agreement else 1


if __name__ == '__main__':
    sys.exit(main())
