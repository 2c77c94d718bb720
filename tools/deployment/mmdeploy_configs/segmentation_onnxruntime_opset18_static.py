# mmdeploy 1.3.1 deploy config for this plugin's segmentors (DSRL, the LR
# baseline, ICNet) and mmseg's, with ONNX Runtime. Opset 18: the anti-aliased
# resize of the LR input is ONNX's Resize(antialias=1), added in opset 18
# (mmdeploy's own segmentation configs use opset 11). Export inside
# mmseg_dsrl.export.mmdeploy_compat.mmdeploy_export_compatible(), or with
# tools/deployment/mmdeploy_export.py; docs/deployment.md#mmdeploy.
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=18,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['output'],
    input_shape=None,
    optimize=True)
codebase_config = dict(type='mmseg', task='Segmentation', with_argmax=False)
backend_config = dict(type='onnxruntime')
