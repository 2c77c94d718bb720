"""mmdeploy 1.3.1 on torch >= 2.9: the compatibility block, and (where
mmdeploy is installed, an opt-in) the export of DSRL / LR / ICNet configs
checked against PyTorch."""
import os.path as osp

import pytest
import torch
from dsrl_test_utils import REPO, run_script
from torch import nn

from mmseg_dsrl.export.mmdeploy_compat import mmdeploy_export_compatible


def test_block_exports_with_the_torchscript_exporter_and_restores(tmp_path):
    """mmdeploy calls torch.onnx.export without ``dynamo``; inside the
    block that means the TorchScript exporter mmdeploy's rewriters patch
    (torch's default, the dynamo exporter, needs onnxscript, which this
    stack does not install), with the plugin's anti-aliased resize
    symbolic (opset 18)."""
    pytest.importorskip('onnx')
    import onnx

    class Downsample(nn.Module):

        def forward(self, x):
            return nn.functional.interpolate(
                x, scale_factor=0.5, mode='bilinear', antialias=True)

    original = torch.onnx.export
    out = str(tmp_path / 'down.onnx')
    with mmdeploy_export_compatible():
        assert torch.onnx.export is not original
        torch.onnx.export(Downsample(), (torch.randn(1, 3, 8, 8), ), out,
                          opset_version=18)
    assert torch.onnx.export is original
    nodes = onnx.load(out).graph.node
    resize = [n for n in nodes if n.op_type == 'Resize']
    assert resize and any(a.name == 'antialias' and a.i == 1
                          for a in resize[0].attribute)


@pytest.mark.integration
@pytest.mark.parametrize('config', [
    'configs/dsrl/dsrl_bisenetv1_r18-d32-w0.5_1xb4-400i_dsrl-demo-128x256.py',
    'configs/icnet/icnet-cascade_r18-d8_1xb4-400i_dsrl-demo-256x512.py',
])
def test_mmdeploy_exports_agree_with_pytorch(config, tmp_path, capsys):
    pytest.importorskip('mmdeploy')
    import cv2
    import numpy as np
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import save_checkpoint
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(REPO, config))
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'model.pth')
    save_checkpoint(
        dict(state_dict=MODELS.build(cfg.model).state_dict(), meta={}),
        ckpt)
    image = str(tmp_path / 'image.png')
    cv2.imwrite(image, np.random.default_rng(0).integers(
        0, 255, (256, 512, 3), dtype=np.uint8))
    assert run_script('tools/deployment/mmdeploy_export.py', [
        osp.join(REPO, config), ckpt, image, '--work-dir', tmp_path / 'out'
    ]) == 0, capsys.readouterr()
    assert 'labels agree on 100.000 %' in capsys.readouterr().out
