import json

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from ganspect.intervals import (
    auroc_difference,
    histograms,
    image_auroc_interval,
    pixel_auroc_interval,
    stratified_counts,
    weighted_aurocs,
)
from ganspect.metrics import pixel_auroc


def scored_photos(rng, good=14, bad=32, separation=1.5):
    """A test set the size of the cookies' (14 good, 32 defective), scores drawn from two normal distributions."""
    labels = np.r_[np.zeros(good), np.ones(bad)].astype(int)
    return labels, rng.normal(size=good + bad) + separation * labels


def test_resampling_draws_within_each_class_and_is_seeded():
    strata = np.r_[np.zeros(14), np.ones(32)]
    counts = stratified_counts(strata, 50, seed=3)
    assert (counts[0] == 1).all()  # the first row is the sample as it is
    assert (counts[:, :14].sum(1) == 14).all() and (counts[:, 14:].sum(1) == 32).all()
    assert counts[1:].std() > 0.5  # photos drawn twice, others left out
    assert np.array_equal(counts, stratified_counts(strata, 50, seed=3))


def test_the_resampled_auroc_is_exact_on_the_sample_itself_ties_included(rng):
    labels, scores = scored_photos(rng)
    scores[[2, 20, 30]] = scores[25]  # ties across classes count half
    pos, neg = histograms([scores[i : i + 1] for i in range(46)], [labels[i : i + 1] for i in range(46)])
    assert weighted_aurocs(pos, neg, np.ones((1, 46)))[0] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    # and a photo counted twice is the AUROC of the set with that photo copied
    twice = np.ones((1, 46))
    twice[0, 5] = 2
    copied = np.r_[scores, scores[5]], np.r_[labels, labels[5]]
    assert weighted_aurocs(pos, neg, twice)[0] == pytest.approx(roc_auc_score(copied[1], copied[0]), abs=1e-12)


@pytest.mark.parametrize("separation", [1.0, 3.5])
def test_the_interval_holds_the_true_auroc_about_as_often_as_it_says(separation):
    """Two normals `separation` standard deviations apart: the AUROC of the population is Phi(separation / sqrt 2),
    0.760 or 0.993. Over 300 test sets of 14 + 32, the 95% interval should hold it about 95% of the time; near 1,
    where a bootstrap's interval collapses onto the perfect rankings it resamples, it held the truth 57% of the time
    (benchmarks/interval_coverage.py)."""
    truth = norm.cdf(separation / np.sqrt(2))
    held = []
    for k in range(300):
        labels, scores = scored_photos(np.random.default_rng(k), separation=separation)
        low, high = image_auroc_interval(labels, scores)
        held.append(low <= truth <= high)
    assert 0.9 <= np.mean(held) <= 0.99


def test_a_perfect_ranking_still_has_an_interval():
    labels = np.r_[np.zeros(14), np.ones(32)]
    low, high = image_auroc_interval(labels, labels + np.arange(46) * 1e-3)
    assert high == 1.0 and 0.9 < low < 0.95  # 448 pairs right say little more than that
    low, high = image_auroc_interval(labels, -labels)
    assert low == 0.0 and high < 0.15


def test_pixels_are_resampled_image_by_image(rng):
    """Ten images, each with its own offset on every pixel: whether an image is easy or hard depends on the image,
    so resampling images must give a wide interval, where a pixel-by-pixel bootstrap would give a narrow one."""
    masks = [np.zeros((40, 40), bool) for _ in range(10)]
    for m in masks[:5]:
        m[10:20, 10:20] = True
    maps = [rng.normal(size=(40, 40)) * 0.3 + rng.normal() + m for m in masks]
    exact = pixel_auroc(masks, maps)
    low, high = pixel_auroc_interval(masks, maps, resamples=500)
    assert low < exact < high
    assert high - low > 0.1  # one image more or less moves the figure by about that much
    pos, neg = histograms(maps, masks)
    assert weighted_aurocs(pos, neg, np.ones((1, 10)))[0] == pytest.approx(exact, abs=1e-3)  # binned, nearly exact


def test_a_difference_against_itself_is_zero_and_a_better_detector_is_above(rng):
    labels, scores = scored_photos(rng, separation=1.0)
    same = auroc_difference(labels, scores, scores.copy())
    assert same == {"difference": 0.0, "low": 0.0, "high": 0.0}
    # the same photos, scores nearer to the truth: above, and the difference is that of the exact AUROCs
    better = scores + 2.0 * labels
    found = auroc_difference(labels, np.stack([better, better + 0.5 * labels]), scores)
    expected = (roc_auc_score(labels, better) + roc_auc_score(labels, better + 0.5 * labels)) / 2
    assert found["difference"] == pytest.approx(expected - roc_auc_score(labels, scores), abs=1e-12)
    assert 0 < found["low"] < found["difference"] < found["high"]


def test_a_photo_one_fit_did_not_score_counts_for_the_others_only(rng):
    labels, scores = scored_photos(rng)
    partial = scores.copy()
    partial[[20, 21]] = np.nan  # two defective photos handed to fit, say, and left out of its test
    found = auroc_difference(labels, np.stack([scores, partial]), np.zeros_like(scores))
    keep = ~np.isnan(partial)
    expected = (roc_auc_score(labels, scores) + roc_auc_score(labels[keep], scores[keep])) / 2 - 0.5
    assert found["difference"] == pytest.approx(expected, abs=1e-12)


def test_evaluate_reports_both_intervals_around_its_figures(squares_folder, tmp_path):
    import ganspect
    from ganspect.cli import main

    model = tmp_path / "m.pt"
    ganspect.PCAReconstruction(image_size=16).fit(sorted((squares_folder / "train/good").iterdir())).save(model)
    assert main(["-q", "evaluate", str(model), str(squares_folder), "--out", str(tmp_path / "ev")]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    for key in ("image_auroc", "pixel_auroc"):
        low, high = metrics[f"{key}_interval"]
        assert low < metrics[key] < high <= 1
    assert "bootstrap" in metrics["intervals"]
    report = (tmp_path / "ev" / "report.html").read_text()
    low, high = metrics["image_auroc_interval"]
    assert f"{low:.3f} to {high:.3f}" in report


def test_compare_sets_two_models_side_by_side_on_the_same_photos(squares_folder, tmp_path, capsys):
    """`ganspect compare`: each side's AUROCs are those `evaluate` measures, the difference theirs, with its interval;
    a model against itself is level, with an interval of zero width."""
    import ganspect
    from ganspect.cli import main

    train = sorted((squares_folder / "train/good").iterdir())
    for name, cls in (("pca", ganspect.PCAReconstruction), ("gauss", ganspect.PixelGaussian)):
        cls(image_size=16).fit(train).save(tmp_path / f"{name}.pt")
        assert (
            main(["-q", "evaluate", str(tmp_path / f"{name}.pt"), str(squares_folder), "--out", str(tmp_path / name)])
            == 0
        )
    metrics = {n: json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("pca", "gauss")}
    argv = ["-q", "compare", str(squares_folder), "--models", str(tmp_path / "gauss.pt"), "--against"]
    assert main([*argv, str(tmp_path / "pca.pt"), "--json", str(tmp_path / "c.json")]) == 0
    found = json.loads((tmp_path / "c.json").read_text())
    for key, tolerance in (("image_auroc", 1e-12), ("pixel_auroc", 2e-3)):  # pixels: binned, nearly exact
        gap = found[f"{key}_difference"]
        assert gap["difference"] == pytest.approx(metrics["gauss"][key] - metrics["pca"][key], abs=tolerance)
        assert gap["low"] < gap["difference"] < gap["high"]
        assert found[f"first_{key}"] == pytest.approx(metrics["gauss"][key], abs=tolerance)
    assert "image AUROC: " in capsys.readouterr().out
    assert main([*argv[:-2], str(tmp_path / "pca.pt"), "--against", str(tmp_path / "pca.pt")]) == 0
    assert "difference +0.000 (+0.000 to +0.000): level" in capsys.readouterr().out
