"""map_reference: maps standardised pixel by pixel by the maps of the normal training images."""

import numpy as np
import torch

import ganspect


def rimmed_images(count: int, seed: int) -> np.ndarray:
    """(count, 16, 16) floats: a disc whose brightness varies a lot between images (PCA keeps it) and faint noise
    in the four left columns (too little variance for 80% of it to need it): a "rim" PCA misses on every image."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:16, :16]
    disc = ((rows - 8) ** 2 + (cols - 10) ** 2 <= 9).astype(np.float32)
    x = 0.3 + rng.uniform(0, 0.5, (count, 1, 1)) * disc
    x[:, :, :4] += rng.normal(0, 0.05, (count, 16, 4))
    return x.clip(0, 1).astype(np.float32)


def peaks(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.unravel_index(maps.reshape(len(maps), -1).argmax(1), maps.shape[1:])


def test_what_every_normal_image_misses_stops_counting():
    train = rimmed_images(200, seed=0)
    test = rimmed_images(20, seed=1)
    test[:, 12:14, 6:8] += 0.08  # a faint defect off the disc and off the rim
    raw = ganspect.PCAReconstruction(image_size=16, variance=0.8, seed=0).fit(train)
    ref = ganspect.PCAReconstruction(image_size=16, variance=0.8, map_reference=True, seed=0).fit(train)
    # plain, the rim outshines the defect on most images; standardised, the defect is the peak of every map
    rows, cols = peaks(raw.anomaly_map(test))
    assert (cols < 4).mean() > 0.5
    rows, cols = peaks(ref.anomaly_map(test))
    assert ((rows >= 11) & (rows <= 14) & (cols >= 5) & (cols <= 8)).all()


def test_the_reference_is_saved_and_only_set_when_asked(digits, tmp_path):
    plain = ganspect.PCAReconstruction(image_size=16, seed=0).fit(digits.train)
    assert plain.map_reference_ is None
    ref = ganspect.PCAReconstruction(image_size=16, map_reference=True, seed=0).fit(digits.train)
    assert ref.map_reference_.shape == (2, 16, 16) and (ref.map_reference_[1] > 0).all()  # mean, spread
    ref.save(tmp_path / "m.pt")
    back = ganspect.load(tmp_path / "m.pt")
    torch.testing.assert_close(back.map_reference_, ref.map_reference_)
    np.testing.assert_array_equal(back.anomaly_map(digits.test[:20]), ref.anomaly_map(digits.test[:20]))
