import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from ganspect.data import (
    ArrayImages,
    MVTecFolder,
    as_dataset,
    list_images,
    load_mnist,
    one_class_digits,
    read_image,
    read_mask,
)


def test_uint8_means_0_255_and_float_means_0_1():
    u8 = np.full((2, 1, 16, 16), 255, np.uint8)
    assert ArrayImages(u8, 1, 16)[0].max() == 1.0
    f = np.full((2, 16, 16), 0.5, np.float32)  # (N, H, W): one channel
    assert ArrayImages(f, 1, 16)[1].shape == (1, 16, 16)
    assert torch.allclose(ArrayImages(f, 1, 16)[1], torch.full((1, 16, 16), 0.5))


def test_float_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ArrayImages(np.full((1, 16, 16), 3.0, np.float32), 1, 16)


def test_wrong_channel_count_names_expected_and_got():
    with pytest.raises(ValueError, match=r"expected 1 channel\(s\).*\(2, 3, 16, 16\)"):
        ArrayImages(np.zeros((2, 3, 16, 16), np.uint8), 1, 16)


def test_images_are_resized_to_the_model():
    ds = ArrayImages(np.zeros((1, 1, 40, 40), np.uint8), 1, 32)
    assert ds[0].shape == (1, 32, 32)


def test_dataset_of_tuples_uses_the_first_element():
    data = [(torch.rand(1, 16, 16), 0) for _ in range(3)]
    ds = as_dataset(data, 1, 16)
    assert len(ds) == 3 and torch.equal(ds[2], data[2][0])


def test_grey_and_colour_files_convert_to_the_models_channels(tmp_path):
    Image.fromarray(np.full((10, 12, 3), 200, np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(np.full((10, 12), 100, np.uint8)).save(tmp_path / "g.jpg")
    assert read_image(tmp_path / "c.png", 1).shape == (1, 10, 12)
    assert read_image(tmp_path / "g.jpg", 3).shape == (3, 10, 12)


def test_unreadable_image_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        read_image(bad, 1)


def test_empty_folder_and_missing_train_good(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty.*found none"):
        list_images(tmp_path / "empty")
    with pytest.raises(ValueError, match="train/good"):
        MVTecFolder(tmp_path).train_paths()


def test_mask_size_mismatch_names_the_mask(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "x_mask.png")
    with pytest.raises(ValueError, match="x_mask.png.*8x8.*12x10"):
        read_mask(tmp_path / "x_mask.png", (10, 12))


def _write_idx(path, array, gz):
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    (gzip.open if gz else open)(path, "wb").write(header + array.tobytes())


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_files_gz_or_not(tmp_path, gz):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    ext = ".gz" if gz else ""
    _write_idx(tmp_path / f"t10k-images-idx3-ubyte{ext}", images, gz)
    _write_idx(tmp_path / f"t10k-labels-idx1-ubyte{ext}", np.array([3, 7], np.uint8), gz)
    x, y = load_mnist(tmp_path, "test")
    assert np.array_equal(x, images) and y.tolist() == [3, 7]
    with pytest.raises(ValueError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path, "train")


def test_digits_one_class_split_is_disjoint_and_labelled():
    split = one_class_digits(0)
    assert split.train.dtype == np.uint8 and split.train.shape[1:] == (8, 8)
    assert (split.test_labels == (split.test_classes != 0)).all()
    train_rows = {r.tobytes() for r in split.train}
    test_zero_rows = {r.tobytes() for r in split.test[split.test_classes == 0]}
    assert len(train_rows & test_zero_rows) <= 1  # the digits set holds a few identical images


def test_smooth_is_a_gaussian_filter_with_mirrored_edges(rng):
    from scipy import ndimage

    from ganspect.maps import smooth

    maps = rng.random((2, 20, 24)).astype(np.float32)
    for sigma in (0.7, 2.0):
        ours = smooth(torch.from_numpy(maps), sigma).numpy()
        theirs = np.stack([ndimage.gaussian_filter(m, sigma, mode="mirror", truncate=3.0) for m in maps])
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert np.array_equal(smooth(torch.from_numpy(maps), 0).numpy(), maps)
