"""Shared fixtures. Real data from ../shared/data is used when present; tests that need it skip otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST = SHARED_DATA / "mnist"
COOKIES = SHARED_DATA / "cookies"
TEXTURES = SHARED_DATA / "textures"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: this test needs the project's shared data, which a user's clone lacks")
    return path


def assert_same_networks(a, b, when: str) -> None:
    """Every fitted network of detectors a and b equal bit for bit, weights and BatchNorm statistics alike."""
    for name in a.network_names:
        for (key, x), y in zip(getattr(a, name + "_").state_dict().items(),
                               getattr(b, name + "_").state_dict().values(), strict=True):  # fmt: skip
            assert torch.equal(x, y), f"{name}.{key} differs {when}"


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's bundled digits, one-class with 0 normal: real data, no download."""
    from ganspect.data import one_class_digits

    return one_class_digits(digit=0, seed=0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def squares_folder(digits, tmp_path) -> Path:
    """An MVTec AD-style folder of real digits (scikit-learn's zeros): 32 to train on, 12 good to test, and 12 with
    a 2x2 square of a random grey level pasted somewhere, its mask in ground_truth/square."""
    from PIL import Image

    data, rng = tmp_path / "squares", np.random.default_rng(0)
    defective = digits.train[32:44].copy()
    masks = np.zeros_like(defective)
    for image, mask in zip(defective, masks, strict=True):
        y, x = rng.integers(0, 7, 2)
        image[y : y + 2, x : x + 2], mask[y : y + 2, x : x + 2] = rng.integers(40, 220), 255
    folders = {"train/good": digits.train[:32], "test/good": digits.train[44:56], "test/square": defective,
               "ground_truth/square": masks}  # fmt: skip
    for sub, images in folders.items():
        (data / sub).mkdir(parents=True)
        for i, image in enumerate(images):
            Image.fromarray(image).save(data / sub / (f"{i:03d}_mask.png" if "ground" in sub else f"{i:03d}.png"))
    return data
