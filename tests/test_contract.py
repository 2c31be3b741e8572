"""The contract every detector keeps (STYLE.md), trained for real on scikit-learn's digits, small settings."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

import ganspect
from ganspect import NotFittedError

SMALL = {
    "AnoGAN": dict(
        image_size=16,
        width=16,
        latent_dim=16,
        steps=6,
        rounds=3,
        batch_size=16,
        search_steps=20,
        threshold_images=32,
        device="cpu",
    ),
    "OGNet": dict(
        image_size=16,
        width=8,
        steps=6,
        rounds=3,
        old_round=1,
        batch_size=16,
        phase_two_steps=10,
        threshold_images=32,
        device="cpu",
    ),
}
SMALL["RepairGAN"] = dict(
    image_size=16, width=4, crop_size=16, steps=6, rounds=3, batch_size=16, threshold_images=32, device="cpu"
)
# the image score read off G's residual, the map still D's
SMALL["RepairGAN-repair-verdict"] = {**SMALL["RepairGAN"], "verdict": "repair"}
SMALL["AnoGAN-encoder"] = {**SMALL["AnoGAN"], "mapping": "encoder"}
SMALL["AnoGAN-wgan-gp"] = {**SMALL["AnoGAN-encoder"], "gan": "wgan-gp"}
# the encoder's z refined by a short latent search, and G a moving average of its weights
SMALL["AnoGAN-encoder-refined"] = {**SMALL["AnoGAN-encoder"], "refine_steps": 5, "generator_average": 0.9}
# maps standardised by the normal maps, the image score read off them
SMALL["AnoGAN-encoder-reference"] = {**SMALL["AnoGAN-encoder"], "map_reference": True, "image_score": "map"}
# the image score read off the standardised maps, the maps shown plain
SMALL["AnoGAN-encoder-reference-rule"] = {**SMALL["AnoGAN-encoder"], "image_score": "reference"}
SMALL["PixelGaussian"] = dict(image_size=16, batch_size=16, threshold_images=32, device="cpu")
SMALL["PCAReconstruction"] = dict(image_size=16, batch_size=16, threshold_images=32, device="cpu")
SMALL["LocalStatistics"] = dict(image_size=16, batch_size=16, threshold_images=32, bank_size=500, device="cpu")


def make(name, **overrides):
    return getattr(ganspect, name.split("-")[0])(**{**SMALL[name], **overrides})


@pytest.fixture(scope="module", params=sorted(SMALL))
def fitted(request, digits):
    det = make(request.param)
    assert det.fit(digits.train) is det  # fit returns self
    return det


def test_not_fitted_raises(digits):
    for name in SMALL:
        with pytest.raises(NotFittedError):
            make(name).score(digits.test[:2])


def test_score_is_one_float_per_image(fitted, digits):
    scores = fitted.score(digits.test[:10])
    assert scores.shape == (10,) and scores.dtype == np.float32 and np.isfinite(scores).all()
    maps = fitted.anomaly_map(digits.test[:10])
    assert maps.shape == (10, fitted.image_size, fitted.image_size) and (maps >= 0).all()


def test_score_does_not_depend_on_batch_mates(fitted, digits):
    images = digits.test[:12]
    together = fitted.score(images)
    alone = np.array([fitted.score(images[i : i + 1])[0] for i in (0, 5, 11)])
    shuffled = fitted.score(images[::-1])[::-1]
    np.testing.assert_allclose(alone, together[[0, 5, 11]], rtol=1e-4)
    np.testing.assert_allclose(shuffled, together, rtol=1e-4)


def test_predict_agrees_with_threshold(fitted, digits):
    scores, labels = fitted.score(digits.test[:40]), fitted.predict(digits.test[:40])
    assert np.array_equal(labels, (scores > fitted.threshold_).astype(int))
    # the rule: (1 - contamination) quantile of the held-out normal images' scores
    assert fitted.threshold_ == pytest.approx(np.quantile(fitted.held_out_scores_, 1 - fitted.contamination))


def test_save_load_gives_identical_scores(fitted, digits, tmp_path):
    fitted.save(tmp_path / "m.pt")
    again = ganspect.load(tmp_path / "m.pt")
    assert type(again) is type(fitted)
    assert dataclasses.asdict(again) == dataclasses.asdict(fitted)
    assert again.threshold_ == fitted.threshold_ and again.history_ == fitted.history_
    np.testing.assert_array_equal(again.score(digits.test[:8]), fitted.score(digits.test[:8]))
    raw = torch.load(tmp_path / "m.pt", weights_only=True)  # a plain dict that carries its hyperparameters
    assert raw["params"]["image_size"] == fitted.image_size


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("image_size", -3),
        ("channels", 2),
        ("steps", 0),
        ("lr", -1.0),
        ("contamination", 1.5),
        ("device", "gpu7"),
        ("augment", "yes"),
    ],
)
def test_bad_parameter_names_itself(name, field, value, digits):
    with pytest.raises(ValueError, match=field):
        make(name, **{field: value}).fit(digits.train)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_seed_same_model_and_global_rng_untouched(name, digits):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = make(name, steps=2, rounds=1).fit(digits.train[:32])
    assert torch.equal(torch.rand(1), expected_next)  # fit did not move the caller's random state
    b = make(name, steps=2, rounds=1).fit(digits.train[:32])
    for net in a.network_names:
        for pa, pb in zip(
            getattr(a, net + "_").state_dict().values(), getattr(b, net + "_").state_dict().values(), strict=True
        ):
            assert torch.equal(pa, pb)
    c = make(name, steps=2, rounds=1, seed=1).fit(digits.train[:32])
    net = a.network_names[0]
    assert not torch.equal(
        next(iter(getattr(a, net + "_").state_dict().values())), next(iter(getattr(c, net + "_").state_dict().values()))
    )


def rss_growth_mib(fn) -> float:
    """How far the process's peak resident memory rises above its current level while fn runs (Linux)."""
    status = Path("/proc/self/status")
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc to read the peak resident memory")

    def kib(field: str) -> int:
        return int(next(line for line in status.read_text().splitlines() if line.startswith(field)).split()[1])

    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
    before = kib("VmRSS")
    fn()
    return (kib("VmHWM") - before) / 1024


def test_score_does_not_keep_the_maps(fitted, digits):
    """score() streams: its memory must not grow with the number of images. Each batch here returns 64 MiB of
    maps; over 6 batches score() must peak far below what keeping them takes (score_and_map keeps them)."""
    score_batch = fitted._score_batch

    def big_maps(x):
        scores, _ = score_batch(x)
        return scores, torch.ones(len(x), 1024, 1024)  # 16 images x 4 MiB

    fitted._score_batch = big_maps
    sigma, fitted.map_sigma = fitted.map_sigma, 0.0  # smoothing's own transient copies are not what is measured
    reference, fitted.map_reference_ = fitted.map_reference_, None  # it is shaped for the model's maps, not these
    images = digits.test[: 6 * fitted.batch_size]
    try:
        kept = rss_growth_mib(lambda: fitted.score_and_map(images))
        streamed = rss_growth_mib(lambda: fitted.score(images))
    finally:
        del fitted._score_batch
        fitted.map_sigma, fitted.map_reference_ = sigma, reference
    assert kept > 6 * 64  # the measurement sees maps being kept
    assert streamed < 3 * 64
