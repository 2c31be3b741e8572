"""The reference baselines: what they compute, and their floor on real photos (../shared/data/cookies)."""

import numpy as np
import pytest
import torch

import ganspect
from ganspect.data import ImageFiles, MVTecFolder
from ganspect.metrics import image_metrics

from .conftest import COOKIES, need


def test_gaussian_map_is_the_standardised_distance(rng):
    train = rng.random((40, 1, 8, 8)).astype(np.float32)
    det = ganspect.PixelGaussian(image_size=8, validation_split=0, top_share=0.25, device="cpu").fit(train)
    mean, std = train.mean(0), np.maximum(train.std(0), det.min_std)
    x = rng.random((3, 1, 8, 8)).astype(np.float32)
    expected = np.abs(x - mean) / std  # (3, 1, 8, 8)
    scores, maps = det.score_and_map(x)
    np.testing.assert_allclose(maps, expected[:, 0], rtol=1e-4, atol=1e-5)
    top = np.sort(expected.reshape(3, -1), 1)[:, -16:].mean(1)  # a quarter of 64 pixels
    np.testing.assert_allclose(scores, top, rtol=1e-4)


def test_pca_keeps_the_variance_share_and_reconstructs_its_subspace(rng):
    basis = rng.standard_normal((3, 64))
    train = (0.5 + 0.05 * rng.standard_normal((50, 3)) @ basis).reshape(50, 1, 8, 8).clip(0, 1).astype(np.float32)
    det = ganspect.PCAReconstruction(image_size=8, validation_split=0, variance=0.999, device="cpu").fit(train)
    assert det.subspace_.components.shape[0] <= 3 + 2  # the data spans 3 directions (clipping adds a little)
    inside = train[:4]
    outside = inside.copy()
    outside[:, :, 2:5, 2:5] = 1.0
    s_in, s_out = det.score(inside), det.score(outside)
    assert (s_in < 1e-4).all() and (s_out > 10 * s_in.max()).all()
    maps = det.anomaly_map(outside)
    assert maps[:, 2:5, 2:5].mean() > 5 * maps[:, 6:, 6:].mean()  # the residual sits on the changed pixels


def test_pca_save_load_keeps_the_learned_number_of_components(rng, tmp_path):
    train = rng.random((30, 1, 8, 8)).astype(np.float32)
    det = ganspect.PCAReconstruction(image_size=8, variance=0.5, device="cpu").fit(train)
    det.save(tmp_path / "pca.pt")
    again = ganspect.load(tmp_path / "pca.pt")
    assert again.subspace_.components.shape == det.subspace_.components.shape
    np.testing.assert_array_equal(again.score(train), det.score(train))


@pytest.mark.parametrize("cls", [ganspect.PixelGaussian, ganspect.PCAReconstruction])
def test_baselines_refuse_patch_mode(cls):
    with pytest.raises(ValueError, match="patch_size"):
        cls(image_size=32, patch_size=16).fit(np.zeros((4, 32, 32), np.uint8))


@pytest.mark.parametrize(("cls", "floor"), [(ganspect.PixelGaussian, 0.90), (ganspect.PCAReconstruction, 0.95)])
def test_baseline_floors_on_cookies(cls, floor):
    """Measured at 64 px with the defaults (seed 0): Gaussian image AUROC 0.935, PCA 0.987 (docs/measurements.md)."""
    folder = MVTecFolder(need(COOKIES))
    det = cls(channels=3, device="cpu")
    det.fit(ImageFiles(folder.train_paths(), 3, det.image_size))
    items = folder.test_images()
    scores = det.score(ImageFiles([t.path for t in items], 3, det.image_size))
    auroc = image_metrics(np.array([t.label for t in items]), scores)["image_auroc"]
    print(f"{cls.__name__} on cookies: image AUROC {auroc:.3f}")
    assert auroc > floor
    assert torch.isfinite(torch.as_tensor(scores)).all()
