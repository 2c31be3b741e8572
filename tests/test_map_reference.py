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


def test_the_reference_rule_judges_by_the_standardised_map_and_shows_the_plain_one(tmp_path):
    """image_score='reference': the verdict is read off the map standardised by the normal maps, so the rim every
    normal image has stops deciding it, while the map shown (and what it says about where) is the plain one."""
    from sklearn.metrics import roc_auc_score

    from ganspect.maps import top_mean

    train = rimmed_images(200, seed=0)
    test = rimmed_images(40, seed=1)
    test[20:, 12:14, 6:8] += 0.08  # the faint defect on the second half
    labels = np.r_[np.zeros(20), np.ones(20)]
    settings = dict(image_size=16, variance=0.8, top_share=0.02, seed=0)
    by_map = ganspect.PCAReconstruction(**settings, image_score="map").fit(train)
    by_reference = ganspect.PCAReconstruction(**settings, image_score="reference").fit(train)
    scores, maps = by_reference.score_and_map(test)
    np.testing.assert_array_equal(maps, by_map.anomaly_map(test))  # the map shown is not standardised
    mean, spread = by_reference.map_reference_
    standard = ((torch.from_numpy(maps) - mean) / spread).clamp(min=0)
    np.testing.assert_allclose(scores, top_mean(standard, by_reference.top_share).numpy(), rtol=1e-6)
    auroc_map, auroc_reference = roc_auc_score(labels, by_map.score(test)), roc_auc_score(labels, scores)
    assert auroc_map < 0.8 and auroc_reference > 0.95, (auroc_map, auroc_reference)
    by_reference.save(tmp_path / "m.pt")
    back = ganspect.load(tmp_path / "m.pt")
    assert back.score_rule_ == "reference"
    np.testing.assert_array_equal(back.score(test), scores)


def test_auto_keeps_the_reference_only_when_it_chose_that_rule(digits, monkeypatch):
    """image_score='auto' compares the three rules (their proxy AUROCs are in validation_) and keeps the normal
    maps' reference with the model only where the 'reference' rule won."""
    import ganspect.validation

    for favoured in ("map", "reference"):
        monkeypatch.setattr(ganspect.validation, "best_rule", lambda choice, f=favoured: f)
        det = ganspect.PCAReconstruction(image_size=16, map_sigma=1.0, image_score="auto", seed=0).fit(digits.train)
        assert det.score_rule_ == favoured
        assert {"rule_auroc_model", "rule_auroc_map", "rule_auroc_reference"} <= set(det.validation_)
        assert (det.map_reference_ is not None) == (favoured == "reference")
        held = det.held_out_scores_
        assert det.threshold_ == np.quantile(held, 1 - det.contamination)
        if favoured == "reference":
            assert det.validation_["proxy_auroc"] == det.validation_["rule_auroc_reference"]
