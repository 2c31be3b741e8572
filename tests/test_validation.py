"""Validation without test labels: the held-out split, the threshold from it, and the proxy's choices."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.validation import Validation, split_indices


def test_split_is_seeded_disjoint_and_capped():
    train, held = split_indices(100, 0.2, 256, seed=0)
    assert len(held) == 20 and len(train) == 80 and not set(train) & set(held)
    assert split_indices(100, 0.2, 256, seed=0) == (train, held)
    assert split_indices(100, 0.2, 256, seed=1)[1] != held
    assert len(split_indices(100, 0.2, 7, seed=0)[1]) == 7  # at most threshold_images
    assert split_indices(3, 0.1, 256, seed=0)[1] != []  # at least one image when a split is asked for
    assert split_indices(1, 0.5, 256, seed=0) == ([0], [])  # never the only image
    assert split_indices(10, 0.0, 256, seed=0) == (list(range(10)), [])


def test_held_out_images_never_reach_training(digits):
    """The per-pixel Gaussian's mean is exactly the mean of what it trained on: the images outside the split."""
    images = digits.train[:40]
    det = ganspect.PixelGaussian(image_size=8, validation_split=0.25, device="cpu").fit(images)
    train, held = split_indices(40, 0.25, det.threshold_images, det.seed)
    as_unit = images.astype(np.float32) / 255
    np.testing.assert_allclose(det.statistics_.mean[0].numpy(), as_unit[train].mean(0), atol=1e-6)
    assert not np.allclose(det.statistics_.mean[0].numpy(), as_unit.mean(0), atol=1e-3)
    assert det.validation_["held_out_images"] == len(held) == 10
    # the threshold comes from the held-out images' scores
    held_scores = det.score(images[held])
    np.testing.assert_allclose(det.held_out_scores_, held_scores, rtol=1e-6)
    assert det.threshold_ == pytest.approx(np.quantile(held_scores, 1 - det.contamination))


def test_proxy_grades_the_defect_kinds_named_in_validation_defects(digits):
    """validation_defects chooses what the proxy is made of: the fitted figures are those of Validation on exactly
    those kinds, not of the default ones; an unknown kind is refused by name before any work."""
    images = digits.train[:40]
    det = ganspect.PixelGaussian(image_size=8, validation_defects="speck, haze", device="cpu").fit(images)
    held = split_indices(40, det.validation_split, det.threshold_images, det.seed)[1]
    as_unit = torch.from_numpy(images.astype(np.float32) / 255)[:, None]
    named = Validation(as_unit, held, det.seed, ("speck", "haze")).measure(det)
    default = Validation(as_unit, held, det.seed, ("blob", "cutpaste", "scar")).measure(det)
    assert det.validation_["proxy_pixel_auroc"] == pytest.approx(named["proxy_pixel_auroc"])
    assert det.validation_["proxy_pixel_auroc"] != pytest.approx(default["proxy_pixel_auroc"])
    for wrong in ("speck,dent", ("speck", "haze")):  # an unknown kind; a tuple, as the class constant once was
        with pytest.raises(ValueError, match="validation_defects: expected a comma-separated choice"):
            ganspect.PixelGaussian(validation_defects=wrong).fit(images)


def test_proxy_prefers_the_trained_model_as_the_test_labels_do(digits):
    """A deliberately bad model (a few steps) against a trained one: the label-free proxy ranks them as the test
    labels do, and within one training the kept round is the one whose proxy was highest."""
    settings = dict(image_size=16, width=16, latent_dim=16, batch_size=16, mapping="encoder", device="cpu")
    bad = ganspect.AnoGAN(**settings, steps=2, rounds=1).fit(digits.train)
    good = ganspect.AnoGAN(**settings, steps=300, rounds=5).fit(digits.train)
    auroc = {name: roc_auc_score(digits.test_labels, det.score(digits.test)) for name, det in
             (("bad", bad), ("good", good))}  # fmt: skip
    print(f"proxy bad {bad.validation_['proxy']:.3f} good {good.validation_['proxy']:.3f}; test AUROC {auroc}")
    assert good.validation_["proxy"] > bad.validation_["proxy"]
    assert auroc["good"] > auroc["bad"]
    proxies = good.history_["proxy"]
    assert len(proxies) == 5 and good.history_["kept_round"] == [float(np.argmax(proxies) + 1)]
    assert good.validation_["proxy"] == pytest.approx(max(proxies))  # the kept networks are the best round's


def test_image_score_rules(digits):
    """'map' reads the score off the smoothed map; 'auto' takes whichever rule validation found better, and says
    which in score_rule_ (saved with the model)."""
    from ganspect.maps import top_mean

    settings = dict(image_size=16, width=8, steps=20, rounds=2, old_round=1, phase_two_steps=0, map_sigma=1.0,
                    device="cpu")  # fmt: skip
    by_map = ganspect.OGNet(**settings, image_score="map").fit(digits.train)
    scores, maps = by_map.score_and_map(digits.test[:20])
    np.testing.assert_allclose(scores, top_mean(torch.from_numpy(maps), by_map.top_share).numpy(), rtol=1e-6)
    assert by_map.score_rule_ == "map"
    auto = ganspect.OGNet(**settings, image_score="auto").fit(digits.train)
    fitted = {rule: ganspect.OGNet(**settings, image_score=rule).fit(digits.train) for rule in ("model", "reference")}
    fitted["map"] = by_map
    assert auto.score_rule_ in fitted
    # the same networks (same seed, no validated rounds to pick from) under each rule: auto takes the best
    proxies = {rule: det.validation_["proxy_auroc"] for rule, det in fitted.items()}
    assert auto.validation_["proxy_auroc"] == pytest.approx(proxies[auto.score_rule_])
    assert auto.validation_["proxy_auroc"] == pytest.approx(max(proxies.values()))
    assert {rule: auto.validation_[f"rule_auroc_{rule}"] for rule in fitted} == pytest.approx(proxies)


def test_on_round_sees_each_validated_round_as_it_stands(digits):
    """fit(on_round=...) is called once per validated round with the proxy figures history_ records, and what it
    scores there is that round's model: with pick_round=False the last round is kept, so the last call's scores are
    the fitted detector's."""
    settings = dict(image_size=16, width=16, latent_dim=16, batch_size=16, mapping="encoder", device="cpu")
    seen = []

    def on_round(det, index, figures):
        seen.append((index, figures["proxy"], det.score(digits.test[:12])))

    det = ganspect.AnoGAN(**settings, steps=60, rounds=3, pick_round=False).fit(digits.train, on_round=on_round)
    # the encoder's rounds continue the GAN's count: 3, 4, 5
    assert [index for index, _, _ in seen] == [3, 4, 5]
    assert [proxy for _, proxy, _ in seen] == det.history_["proxy"]
    np.testing.assert_allclose(seen[-1][2], det.score(digits.test[:12]), rtol=1e-5)
    assert not np.allclose(seen[0][2], seen[-1][2])  # the rounds' models differ
    assert det._on_round is None  # not kept beyond fit
    with pytest.raises(ValueError, match="on_round: expected a function"):  # before any training, not after it
        ganspect.AnoGAN(**settings, steps=60, rounds=3).fit(digits.train, on_round="log")


def test_known_defects_are_measured_but_never_trained_on(digits):
    """Real defective images handed to fit: their image AUROC against the held-out normal images is measured
    (blank white pages, unlike any zero, are found every time), while they never reach training, the threshold
    still comes from the held-out normal images alone, and the proxy that picks rounds stays on synthetic
    defects."""
    images = digits.train[:40]
    plain = ganspect.PixelGaussian(image_size=8, device="cpu").fit(images)
    white = np.full((5, 8, 8), 255, np.uint8)
    known = ganspect.PixelGaussian(image_size=8, device="cpu").fit(images, known_defects=white)
    assert known.validation_["known_defects"] == 5 and known.validation_["known_auroc"] == 1.0
    assert "known_auroc" not in plain.validation_
    for key in ("proxy_auroc", "proxy_pixel_auroc", "proxy"):
        assert known.validation_[key] == plain.validation_[key]
    assert known.threshold_ == plain.threshold_
    torch.testing.assert_close(known.statistics_.mean, plain.statistics_.mean)  # not trained on
    # normal-looking 'defects' (zeros the model never saw) are found no better than chance
    zeros = ganspect.PixelGaussian(image_size=8, device="cpu").fit(images, known_defects=digits.train[40:46])
    assert zeros.validation_["known_auroc"] < 0.8


def test_known_defects_errors_name_the_parameter(digits):
    images = digits.train[:20]
    with pytest.raises(ValueError, match="known_defects: .*validation_split"):
        ganspect.PixelGaussian(image_size=8, validation_split=0).fit(images, known_defects=images[:2])
    with pytest.raises(ValueError, match="known_defects: expected at least one"):
        ganspect.PixelGaussian(image_size=8).fit(images, known_defects=np.zeros((0, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="known_defects: .*no such file or folder"):
        ganspect.PixelGaussian(image_size=8).fit(images, known_defects="no/such/folder")


def test_cross_fitted_folds_hold_out_disjoint_parts_and_keep_the_first_model(digits, monkeypatch):
    """validation_folds=3: the model kept trains exactly as without folds; two twins train, each holding out
    another part of the training images as large, disjoint from the others, and never on its own part."""
    from ganspect.detector import Detector

    calls = []
    fit_split = Detector._fit_split

    def spy(self, data, train_idx, held_idx, known, progress):
        calls.append((train_idx, held_idx))
        return fit_split(self, data, train_idx, held_idx, known, progress)

    monkeypatch.setattr(Detector, "_fit_split", spy)
    images = digits.train[:40]
    settings = dict(image_size=8, validation_split=0.25, map_sigma=1.0, image_score="auto", device="cpu")
    plain = ganspect.PixelGaussian(**settings).fit(images)
    calls.clear()
    folded = ganspect.PixelGaussian(**settings, validation_folds=3).fit(images)
    assert len(calls) == 3
    helds = [set(held) for _, held in calls]
    assert all(len(h) == 10 for h in helds) and len(set.union(*helds)) == 30  # three disjoint parts of 10
    for train, held in calls:
        assert sorted(set(train) | set(held)) == list(range(40)) and not set(train) & set(held)
    assert calls[0][1] == split_indices(40, 0.25, folded.threshold_images, folded.seed)[1]
    torch.testing.assert_close(folded.statistics_.mean, plain.statistics_.mean)  # the first fold's model is kept
    assert folded.validation_["validation_folds"] == 3 and 0 <= folded.validation_["folds_auroc"] <= 1
    with pytest.raises(ValueError, match="validation_folds: 5 folds of 10 held-out images need 50"):
        ganspect.PixelGaussian(**settings, validation_folds=5).fit(images)
    with pytest.raises(ValueError, match="validation_folds: .*validation_split > 0"):
        ganspect.PixelGaussian(image_size=8, validation_split=0, validation_folds=2).fit(images)
    # one rule to choose from: k - 1 trainings for nothing, refused before any work
    with pytest.raises(ValueError, match="validation_folds: .*leave one \\('model'\\); expected image_score='auto'"):
        ganspect.PixelGaussian(image_size=8, validation_folds=2).fit(images)
    with pytest.raises(ValueError, match="validation_folds: .*verdict='auto'"):
        ganspect.RepairGAN(image_size=16, crop_size=16, verdict="judge", validation_folds=2).fit(images)


@pytest.mark.parametrize("favoured", ["model", "map", "reference"])
def test_cross_fitted_rule_follows_the_folds_together(digits, monkeypatch, favoured):
    """The rule is chosen on the folds' mean, not on the first fold alone: twins that both favour one rule
    outvote the kept model's own held-out part, and the threshold then comes from the held-out scores under it."""
    from ganspect.detector import Detector

    twin_choice = {rule: (1.0, 9.0) if rule == favoured else (0.0, -9.0) for rule in ("model", "map", "reference")}
    monkeypatch.setattr(Detector, "_fold_choice", lambda *a: twin_choice)
    images = digits.train[:40]
    det = ganspect.PixelGaussian(
        image_size=8, validation_split=0.25, map_sigma=1.0, image_score="auto", validation_folds=3, device="cpu"
    ).fit(images)
    assert det.score_rule_ == favoured
    assert det.validation_["folds_auroc"] >= 2 / 3  # the twins' 1.0 twice, and the kept model's own
    held = split_indices(40, 0.25, det.threshold_images, det.seed)[1]
    np.testing.assert_allclose(det.held_out_scores_, det.score(images[held]), rtol=1e-6)
    assert det.threshold_ == pytest.approx(np.quantile(det.score(images[held]), 1 - det.contamination))
