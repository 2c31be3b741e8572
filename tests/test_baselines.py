"""The reference baselines: what they compute, and their floor on real photos (../shared/data/cookies)."""

import numpy as np
import pytest
import torch
from benchmarks.textures import texture_split
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.baselines import local_statistics
from ganspect.data import ImageFiles, MVTecFolder
from ganspect.export import export_onnx
from ganspect.metrics import image_metrics, pixel_auroc

from .conftest import COOKIES, TEXTURES, need


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


def test_local_statistics_map_is_the_distance_to_the_nearest_normal_window(rng, tmp_path):
    train = rng.random((6, 1, 16, 16)).astype(np.float32)
    det = ganspect.LocalStatistics(image_size=16, validation_split=0, bank_size=200, map_sigma=0, device="cpu")
    det.fit(train)
    bank = det.bank_.bank
    assert bank.shape == (200, 9)  # 200 pixels' statistics: 3 statistics x 3 window sizes of one channel
    x = rng.random((2, 1, 16, 16)).astype(np.float32)
    features = local_statistics(torch.from_numpy(x), det.radii)
    scaled = (features.permute(0, 2, 3, 1) - det.bank_.mean) / det.bank_.std
    expected = torch.cdist(scaled.reshape(-1, 9), bank).amin(1).view(2, 16, 16)  # brute force
    scores, maps = det.score_and_map(x)
    np.testing.assert_allclose(maps, expected.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scores, expected.flatten(1).amax(1).numpy(), rtol=1e-4)
    # a window taken from the training images themselves is in the bank's neighbourhood: distance 0 there
    assert det.anomaly_map(train).min() < 1e-5
    det.save(tmp_path / "ls.pt")
    np.testing.assert_array_equal(ganspect.load(tmp_path / "ls.pt").score(x), scores)


def test_local_statistics_sees_a_smoothed_patch_that_the_pixels_hide():
    """A blurred square on noise keeps each pixel's value range, but not its local deviation or gradient."""
    g = torch.Generator().manual_seed(0)
    train = torch.rand(8, 1, 32, 32, generator=g)
    test = torch.rand(2, 1, 32, 32, generator=g)
    test[1, :, 8:20, 8:20] = torch.nn.functional.avg_pool2d(test[1:2, :, 6:22, 6:22], 5, 1)[0]
    det = ganspect.LocalStatistics(image_size=32, scales=2, validation_split=0, device="cpu").fit(train)
    scores, maps = det.score_and_map(test.numpy())
    assert scores[1] > 2 * scores[0]
    assert maps[1, 10:18, 10:18].mean() > 3 * maps[1, 24:, 24:].mean()


def test_local_statistics_refuses_what_it_cannot_do(digits, tmp_path):
    with pytest.raises(ValueError, match="scales: the largest window"):
        ganspect.LocalStatistics(image_size=16, scales=4).fit(digits.train[:8])
    with pytest.raises(ValueError, match="bank_size: expected a positive integer"):
        ganspect.LocalStatistics(image_size=16, bank_size=0).fit(digits.train[:8])
    det = ganspect.LocalStatistics(image_size=16, device="cpu").fit(digits.train[:40])
    with pytest.raises(ValueError, match="k-d tree.*ONNX"):
        export_onnx(det, tmp_path / "ls.onnx")
    assert not (tmp_path / "ls.onnx").exists()


@pytest.mark.parametrize("cls", [ganspect.PixelGaussian, ganspect.PCAReconstruction, ganspect.LocalStatistics])
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


@pytest.mark.parametrize(("texture", "floors"), [("brick", (0.90, 0.85)), ("gravel", (0.85, 0.85))])
def test_local_statistics_floor_on_textures(texture, floors):
    """The texture benchmark's split (defects of kinds no detector trains on), seed 0; measured image / pixel AUROC
    0.950 / 0.881 on brick and 0.904 / 0.884 on gravel (docs/measurements.md). A few seconds each."""
    split = texture_split(need(TEXTURES), texture)
    det = ganspect.LocalStatistics(image_size=128, seed=0, device="cpu").fit(split["train"])
    scores, maps = det.score_and_map(split["test"])
    image = roc_auc_score(split["labels"].numpy(), scores)
    pixel = pixel_auroc(list(split["masks"].numpy()), list(maps))
    print(f"local statistics on {texture}: image AUROC {image:.3f}, pixel AUROC {pixel:.3f}")
    assert image > floors[0] and pixel > floors[1]
