"""Reading real frames for INT8 calibration and the deployment benchmark."""
import cv2
import numpy as np
import pytest
import torch

from mmseg_dsrl.export.quantization import read_calibration_images, read_image


def _preprocess(data, training):
    """A data preprocessor's contract: uint8 CHW BGR in, normalised out
    (here: RGB order, scaled to [0, 1])."""
    assert training is False
    pixels = data['inputs'][0].float()
    return dict(inputs=torch.stack([pixels.flip(0) / 255.0]))


def test_images_are_resized_and_preprocessed_in_name_order(tmp_path):
    rng = np.random.default_rng(0)
    frames = {}
    for name in ('b.png', 'a.png', 'c.jpg'):
        frames[name] = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / name), frames[name])
    (tmp_path / 'notes.txt').write_text('not an image')
    images = read_calibration_images(str(tmp_path), 2, (15, 20), _preprocess)
    assert len(images) == 2
    for image, name in zip(images, ('a.png', 'b.png')):  # sorted names
        expected = cv2.resize(frames[name], (20, 15),
                              interpolation=cv2.INTER_LINEAR)
        expected = torch.from_numpy(expected[..., ::-1].copy()).permute(
            2, 0, 1).float() / 255.0
        torch.testing.assert_close(image, expected)
    with pytest.raises(ValueError, match='holds 3 images, 5 asked'):
        read_calibration_images(str(tmp_path), 5, (15, 20), _preprocess)


def test_unreadable_image_is_named(tmp_path):
    bad = tmp_path / 'broken.png'
    bad.write_bytes(b'not a png')
    with pytest.raises(ValueError, match='broken.png: not a readable image'):
        read_image(str(bad), (15, 20), _preprocess)


def test_a_preprocessor_that_pads_at_test_time_reads_the_image(tmp_path):
    """mmseg's SegDataPreProcessor with a test_cfg pads each image and
    writes the padding into its data sample (ESPNetv2's configs do)."""
    from mmseg.models import SegDataPreProcessor
    preprocess = SegDataPreProcessor(
        mean=[0.0] * 3, std=[1.0] * 3, test_cfg=dict(size_divisor=8))
    cv2.imwrite(str(tmp_path / 'a.png'), np.full((30, 40, 3), 7, np.uint8))
    image = read_image(str(tmp_path / 'a.png'), (15, 20), preprocess)
    assert image.shape == (3, 16, 24)  # padded to multiples of 8
    assert image[:, :15, :20].eq(7).all() and image[:, 15:, :].eq(0).all()
