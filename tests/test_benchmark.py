import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from benchmarks import faint_defects, map_smoothing, mirror_views, score_fusion, verdicts
from benchmarks.textures import (
    DETECTORS,
    FILLED,
    KINDS,
    LOCAL,
    PICK,
    PICK_ANY,
    VALIDATION,
    by_kind,
    made,
    maps_sheet,
    run_one,
    texture_split,
    validation_picks,
)
from PIL import Image
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.benchmark import markdown_table, stratified_sample
from ganspect.cli import main
from ganspect.metrics import pixel_auroc
from ganspect.repairgan import TRAINABLE
from ganspect.synthetic import CHANGED, UNSEEN_DEFECTS, defect_kinds, make_defects
from ganspect.validation import split_indices

from .conftest import TEXTURES, need


def test_stratified_sample_takes_the_same_count_of_each_class_reproducibly():
    classes = np.repeat(np.arange(10), 50)
    idx = stratified_sample(classes, 7)
    assert np.bincount(classes[idx]).tolist() == [7] * 10
    assert np.array_equal(idx, stratified_sample(classes, 7))


def test_table_has_a_mean_per_detector_and_the_published_rows():
    rows = [
        {"detector": "ognet", "digit": d, "auroc": a, "test_set": "full", "fit_seconds": 10, "score_ms_per_image": 0.1}
        for d, a in [(0, 0.9), (1, 0.8)]
    ]
    table = markdown_table(rows)
    assert "| ognet | 0.900 | 0.800 | **0.850** | full |" in table
    # published rows give the same digits and their mean over those digits: AnoGAN 0.966, 0.992 -> 0.979
    assert "| 0.966 | 0.992 | 0.979 | full |" in table and "OCGAN" in table


def test_unknown_detector_is_named(tmp_path, capsys):
    code = main(["-q", "benchmark", "one-class-mnist", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--detectors", "anogan-foo"])  # fmt: skip
    assert code == 2 and "anogan-foo" in capsys.readouterr().err


def test_texture_benchmark_picks_each_seeds_fit_by_its_validation_proxy():
    def row(detector, seed, proxy):
        return {"texture": "grass", "detector": detector, "seed": seed, "fit_minutes": 1.0,
                "validation": {"proxy": proxy}, "image_auroc": proxy}  # fmt: skip

    rows = [row("RepairGAN", 0, 0.7), row(FILLED, 0, 0.8), row(LOCAL, 0, 0.9)]
    rows += [row("RepairGAN", 1, 0.9), row(FILLED, 1, 0.6)]
    picks = {(r["detector"], r["seed"]): r for r in validation_picks(rows)}
    assert picks[PICK, 0]["picked"] == FILLED and picks[PICK, 0]["fit_minutes"] == 2.0
    assert picks[PICK_ANY, 0]["picked"] == LOCAL and picks[PICK_ANY, 0]["fit_minutes"] == 3.0
    assert picks[PICK, 1]["picked"] == "RepairGAN"
    assert (PICK_ANY, 1) not in picks  # seed 1 lacks the local-statistics fit: no pick among three


def test_texture_benchmark_sheet_shows_each_crop_beside_its_map_in_the_tests_order():
    g = np.random.default_rng(0)
    test = g.uniform(size=(12, 1, 16, 16)).astype(np.float32)
    masks = np.zeros((12, 16, 16), bool)
    masks[7, 4:12, 4:12] = True
    maps = g.uniform(size=(12, 16, 16))
    sheet = np.asarray(maps_sheet({"test": torch.from_numpy(test), "masks": torch.from_numpy(masks)}, maps))
    # six tiles a row, each the crop, a 2-pixel gap and its map, then a 6-pixel gap; two rows
    assert sheet.shape == (2 * (16 + 6), 6 * (16 + 2 + 16 + 6), 3)
    top, left = 16 + 6, 16 + 2 + 16 + 6  # crop 7: second row, second tile
    crop = sheet[top : top + 16, left : left + 16, 0]
    assert np.abs(crop.astype(float) - test[7, 0] * 255).max() <= 0.5
    heat = sheet[top : top + 16, left + 18 : left + 34]
    edge = masks[7] & ~np.pad(masks[7], 1)[2:, 1:-1]  # the mask's bottom edge is drawn white
    assert (heat[edge] == 255).all() and not (heat[~masks[7]] == 255).all(-1).any()


def test_texture_table_by_kind_is_each_kinds_own_auroc_against_the_good_crops(tmp_path):
    """textures.py's by-kind table: each cell is the image and pixel AUROC of the good crops with that kind's
    crops alone, as the saved fit scores them (pixels read back from its saved histograms)."""
    # KINDS names the kind make_defects gave each crop: a crop made with its kind alone comes out the same
    crops = torch.rand(len(KINDS) // 2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    every, _ = make_defects(crops, seed=0, kinds=tuple(UNSEEN_DEFECTS), sources=crops.flip(0))
    for kind in UNSEEN_DEFECTS:
        alone, _ = make_defects(crops, seed=0, kinds=(kind,), sources=crops.flip(0))
        assert ((alone == every).flatten(1).all(1).numpy() == (KINDS[len(KINDS) // 2 :] == kind)).all(), kind
    split = texture_split(need(TEXTURES), "brick")
    pixels = tmp_path / "brick-local-seed0-pixels.npz"
    row = {"texture": "brick", "detector": LOCAL, "seed": 0,
           **run_one(LOCAL, 0, split, TEXTURES / "grass.png", pixels, keep=True)}  # fmt: skip
    scores, maps = ganspect.load(tmp_path / "brick-local-seed0-model.pt").score_and_map(split["test"])
    line = by_kind([row], ["brick"], [LOCAL], tmp_path).splitlines()[-1]
    cells = re.findall(r"(\d\.\d{3}) / (\d\.\d{3})", line)
    assert len(cells) == len(UNSEEN_DEFECTS)
    masks = split["masks"].numpy()
    for (image, pixel), kind in zip(cells, UNSEEN_DEFECTS, strict=True):
        keep = np.isin(KINDS, ["", kind])
        assert keep.sum() == len(KINDS) // 2 + len(KINDS) // 2 // len(UNSEEN_DEFECTS)
        assert float(image) == pytest.approx(roc_auc_score(split["labels"].numpy()[keep], scores[keep]), abs=5e-4)
        exact = pixel_auroc(list(masks[keep]), list(np.asarray(maps)[keep]))
        assert float(pixel) == pytest.approx(exact, abs=1.5e-3)  # rank bins: nearly exact
    # the kinds differ on this texture, so a table that mixed them up would fail above
    assert len(set(cells)) > 1


def test_texture_benchmark_never_validates_on_the_tests_kind_of_defect():
    """Every detector of the textures benchmark validates on kinds that are neither the test's (UNSEEN_DEFECTS) nor
    any that RepairGAN trains on: its choices are never graded on the defects it is scored on."""
    for name, make in DETECTORS.items():
        made = make(0, Path("fill.png"))
        for det in made if isinstance(made, list) else [made]:
            kinds = set(defect_kinds(det.validation_defects))
            assert kinds and not kinds & set(UNSEEN_DEFECTS) and not kinds & set(TRAINABLE), name
            det._check_params()


def test_verdicts_reads_the_judge_as_the_fitted_model_scores(digits, tmp_path, capsys, monkeypatch):
    """benchmarks/verdicts.py reads both verdicts off a saved RepairGAN; its judge figure must be the test AUROC of
    the model's own scores (the fitted verdict is the judge), so its reading of the other is of the same networks."""
    for sub, images in (("train/good", digits.train[:24]), ("test/good", digits.train[24:32]),
                        ("test/other", digits.test[digits.test_labels != 0][:8])):  # fmt: skip
        (tmp_path / sub).mkdir(parents=True)
        for i, image in enumerate(images):
            Image.fromarray(image).save(tmp_path / sub / f"{i:03d}.png")
    det = ganspect.RepairGAN(image_size=32, crop_size=32, steps=20, rounds=2, width=4, seed=0)
    det.fit(sorted((tmp_path / "train/good").iterdir()))
    det.save(tmp_path / "m.pt")
    monkeypatch.setattr(sys, "argv", ["verdicts.py", "--data", str(tmp_path), str(tmp_path / "m.pt"),
                                      "--sigmas", str(det.verdict_sigma), "0"])  # fmt: skip
    verdicts.main()
    out = capsys.readouterr().out
    judge = float(re.search(r"judge (\d\.\d{3}), repair \d\.\d{3}, standardised sum \d\.\d{3}", out)[1])
    tests = sorted((tmp_path / "test/good").iterdir()) + sorted((tmp_path / "test/other").iterdir())
    assert judge == round(roc_auc_score([0] * 8 + [1] * 8, det.score(tests)), 3)
    assert len(re.findall(r"proxy on .+: judge \d\.\d{3}, repair \d\.\d{3}", out)) == len(verdicts.FAMILIES)
    # read at its own smoothing the judge is the fitted model; at another, the same networks read otherwise
    assert f"judge with verdict_sigma {det.verdict_sigma:g}: test image AUROC {judge:.3f}" in out
    mean = f"judge with verdict_sigma {det.verdict_sigma:g}, mean over the models: {judge:.3f}"
    assert f"{mean}; minus the fitted smoothing's +0.000" in out
    # the multi-scale judge: each photo's judge standardised by the held-out good photos' at each smoothing, the max
    train = sorted((tmp_path / "train/good").iterdir())
    held = [train[i] for i in split_indices(len(train), det.validation_split, det.threshold_images, det.seed)[1]]
    standardised = []
    for sigma in (det.verdict_sigma, 0.0):
        det.verdict_sigma = sigma
        good = det.score(held)
        standardised.append((det.score(tests) - good.mean()) / (good.std() + 1e-12))
    assert (
        f"judge with verdict_sigma 0: test image AUROC {roc_auc_score([0] * 8 + [1] * 8, det.score(tests)):.3f}" in out
    )
    multi = roc_auc_score([0] * 8 + [1] * 8, np.max(standardised, axis=0))
    assert f"multi-scale judge: test image AUROC {multi:.3f}" in out


def test_real_images_table_sets_each_row_against_the_baseline_photo_by_photo(squares_folder, tmp_path):
    """benchmarks/real_images.py's comparison columns: a row's difference to the baseline is the difference of the
    AUROCs `evaluate` measured, images and pixels, each with an interval around it."""
    from benchmarks import real_images

    train = sorted((squares_folder / "train/good").iterdir())
    names = {"PCA reconstruction": ganspect.PCAReconstruction, "per-pixel Gaussian": ganspect.PixelGaussian}
    rows = [
        real_images.evaluated(
            make(image_size=16).fit(train), name, 0, squares_folder, tmp_path / "out", False, 0.0, None
        )
        for name, make in names.items()
    ]
    text = real_images.table(rows, list(names), tmp_path / "out")
    line = next(x for x in text.splitlines() if x.startswith("| per-pixel Gaussian"))
    found = re.findall(r"([+-]\d\.\d{3}) \(([+-]\d\.\d{3}) to ([+-]\d\.\d{3})\)", line)
    assert len(found) == 2
    for (gap, low, high), key in zip(found, ("image_auroc", "pixel_auroc"), strict=True):
        assert abs(float(gap) - (rows[1][key] - rows[0][key])) <= 0.0015  # pixels: binned, nearly exact
        assert float(low) < float(gap) < float(high)


def tiny_repairgan(seed: int, fill: Path) -> ganspect.RepairGAN:
    """A RepairGAN fitted in seconds on the textures' crops: enough to save, load and read again."""
    return ganspect.RepairGAN(
        channels=1, image_size=128, steps=20, rounds=2, width=4, seed=seed, validation_defects=VALIDATION
    )


def test_map_smoothing_reads_a_kept_fit_as_it_scored_and_picks_the_highest_proxy(tmp_path, capsys, monkeypatch):
    """textures.py keeps a fit (`--save-models`) where benchmarks/map_smoothing.py finds it; the fit as it scores
    (its verdict at 0 px, its map at 2 px: today's defaults) is read even when not asked for and must give the fit's
    own test figures; a reading at s gives the verdict at s and the map at s, each set against the fit's own; the
    pick must be the reading whose proxy is highest."""
    monkeypatch.setitem(DETECTORS, "tiny", tiny_repairgan)
    split = texture_split(need(TEXTURES), "brick")
    kept = run_one("tiny", 0, split, TEXTURES / "grass.png", tmp_path / "brick-tiny-seed0-pixels.npz", keep=True)
    model, out = tmp_path / "brick-tiny-seed0-model.pt", tmp_path / "readings.json"
    monkeypatch.setattr(sys, "argv", ["map_smoothing.py", "--data", str(TEXTURES), "--out", str(out), str(model),
                                      "--sigmas", "0", "2"])  # fmt: skip
    map_smoothing.main()
    (row,) = json.loads(out.read_text())
    reads = {(r["verdict_sigma"], r["map_sigma"]): r for r in row["readings"]}
    assert sorted(reads) == [(0.0, 0.0), (0.0, 2.0), (2.0, 2.0)]  # the fit's own added: the comparisons need it
    assert row["fitted"] == "verdict 0 px, map 2 px"
    assert reads[0.0, 2.0]["image_auroc"] == pytest.approx(kept["image_auroc"], abs=1e-9)
    assert reads[0.0, 2.0]["pixel_auroc"] == pytest.approx(kept["pixel_auroc"], abs=1e-9)
    # the verdict reads its own smoothing, the map its own: each figure is shared with the reading of that smoothing
    assert reads[0.0, 0.0]["image_auroc"] == reads[0.0, 2.0]["image_auroc"] != reads[2.0, 2.0]["image_auroc"]
    assert reads[2.0, 2.0]["pixel_auroc"] == reads[0.0, 2.0]["pixel_auroc"] != reads[0.0, 0.0]["pixel_auroc"]
    best = max(row["readings"], key=lambda r: r["proxy"])
    assert row["picked"] == map_smoothing.setting(best)
    out = capsys.readouterr().out
    assert "| brick | pick - fitted |" in out
    # each smoothing read is set against the fit's own on the same crops: one fit, so the difference is exact
    gap = re.search(r"\| brick \| 2 px - fitted \| ([+-]\d\.\d{3}) \([^)]*\) \| ([+-]\d\.\d{3}) ", out)
    assert float(gap[1]) == pytest.approx(reads[2.0, 2.0]["image_auroc"] - kept["image_auroc"], abs=1e-3)
    assert float(gap[2]) == pytest.approx(0.0, abs=1e-3)  # the map at 2 px is the fit's own map


def test_mirror_views_reads_a_saved_fit_both_ways_and_sets_one_against_the_other(digits, tmp_path, capsys, monkeypatch):
    """benchmarks/mirror_views.py reads a saved RepairGAN without and with mirror_views: off must be the fit's own
    test AUROC, on the AUROC of the same networks scoring four views, and the table's difference on minus off."""
    for sub, images in (("train/good", digits.train[:24]), ("test/good", digits.train[24:32]),
                        ("test/other", digits.test[digits.test_labels != 0][:8])):  # fmt: skip
        (tmp_path / sub).mkdir(parents=True)
        for i, image in enumerate(images):
            Image.fromarray(image).save(tmp_path / sub / f"{i:03d}.png")
        if sub == "test/other":  # a mask for every defective image: the pixel figures need them
            (tmp_path / "ground_truth/other").mkdir(parents=True)
            for i, image in enumerate(images):
                Image.fromarray(((image > 128) * 255).astype(np.uint8)).save(
                    tmp_path / "ground_truth/other" / f"{i:03d}_mask.png"
                )
    det = ganspect.RepairGAN(image_size=32, crop_size=32, steps=20, rounds=2, width=4, seed=0)
    det.fit(sorted((tmp_path / "train/good").iterdir()))
    det.save(tmp_path / "m.pt")
    out = tmp_path / "readings.json"
    monkeypatch.setattr(sys, "argv", ["mirror_views.py", "--data", str(tmp_path), "--out", str(out),
                                      str(tmp_path / "m.pt")])  # fmt: skip
    mirror_views.main()
    (row,) = json.loads(out.read_text())
    tests = sorted((tmp_path / "test/good").iterdir()) + sorted((tmp_path / "test/other").iterdir())
    labels = [0] * 8 + [1] * 8
    assert row["off"]["image_auroc"] == pytest.approx(roc_auc_score(labels, det.score(tests)), abs=1e-9)
    det.mirror_views = True
    assert row["on"]["image_auroc"] == pytest.approx(roc_auc_score(labels, det.score(tests)), abs=1e-9)
    assert row["on"]["scores"] != row["off"]["scores"]
    gap = float(re.search(r"\| all \| 1 \| .+? \| .+? \| ([+-]\d\.\d{3}) ", capsys.readouterr().out)[1])
    assert gap == pytest.approx(row["on"]["image_auroc"] - row["off"]["image_auroc"], abs=1e-3)


def test_score_fusion_keeps_each_detectors_ranking_and_averages_the_two(tmp_path, capsys, monkeypatch):
    """benchmarks/score_fusion.py standardises each detector by its held-out crops, which must not change its own
    rankings: RepairGAN's row must give the kept fit's test figures and local statistics' row those of a fit at the
    same seed; the fusion is a third reading, and each proxy the mean of its image and pixel parts."""
    monkeypatch.setitem(DETECTORS, "tiny", tiny_repairgan)
    split = texture_split(need(TEXTURES), "brick")
    kept = run_one("tiny", 0, split, TEXTURES / "grass.png", tmp_path / "brick-tiny-seed0-pixels.npz", keep=True)
    local = run_one(LOCAL, 0, split, TEXTURES / "grass.png", tmp_path / "brick-local-seed0-pixels.npz")
    out = tmp_path / "fusion.json"
    monkeypatch.setattr(sys, "argv", ["score_fusion.py", "--textures", str(TEXTURES), "--out", str(out),
                                      str(tmp_path / "brick-tiny-seed0-model.pt")])  # fmt: skip
    score_fusion.main()
    (row,) = json.loads(out.read_text())
    for name, fitted in (("RepairGAN", kept), ("local", local)):
        assert row[name]["image_auroc"] == pytest.approx(fitted["image_auroc"], abs=1e-9)
        assert row[name]["pixel_auroc"] == pytest.approx(fitted["pixel_auroc"], abs=1e-9)
    # the fused verdict made again: each fit's test scores in units of its scores on the crops it held out, averaged
    fits = [ganspect.load(tmp_path / "brick-tiny-seed0-model.pt"), made(ganspect.LocalStatistics, 0)]
    fits[1].fit(split["train"])
    _, held = split_indices(len(split["train"]), fits[0].validation_split, fits[0].threshold_images, 0)
    normal = [d.score(split["train"][held]) for d in fits]
    fused = np.mean([(d.score(split["test"]) - n.mean()) / n.std() for d, n in zip(fits, normal, strict=True)], 0)
    assert row["fused"]["image_auroc"] == pytest.approx(roc_auc_score(split["labels"].numpy(), fused), abs=1e-9)
    assert row["fused"]["pixel_auroc"] not in (row["RepairGAN"]["pixel_auroc"], row["local"]["pixel_auroc"])
    for figures in (row["RepairGAN"], row["local"], row["fused"]):
        assert figures["proxy"] == pytest.approx((figures["proxy_image"] + figures["proxy_pixel"]) / 2)
    assert "fused proxy" in capsys.readouterr().out


def test_faint_defects_leaves_out_only_defect_pixels_that_barely_changed(tmp_path, capsys, monkeypatch):
    """benchmarks/faint_defects.py reads a kept fit's pixel AUROC as textures.py does, and again without the defect
    pixels whose grey level moved by less than --faint; `before` must be the test crops as they were, so that the
    masks are exactly where it and the test crops differ."""
    split = texture_split(need(TEXTURES), "brick")
    n = len(split["test"]) // 2
    assert torch.equal(split["before"][:n], split["test"][:n])
    assert torch.equal(split["masks"], (split["test"] - split["before"]).abs().amax(1) > CHANGED)
    monkeypatch.setitem(DETECTORS, "tiny", tiny_repairgan)
    kept = run_one("tiny", 0, split, TEXTURES / "grass.png", tmp_path / "brick-tiny-seed0-pixels.npz", keep=True)
    out = tmp_path / "faint.json"
    monkeypatch.setattr(sys, "argv", ["faint_defects.py", "--textures", str(TEXTURES), "--out", str(out),
                                      str(tmp_path / "brick-tiny-seed0-model.pt")])  # fmt: skip
    faint_defects.main()
    shares, row = json.loads(out.read_text())
    assert row["RepairGAN"]["pixel_auroc"] == pytest.approx(kept["pixel_auroc"], abs=1e-9)
    # a scratch or a stain moves every pixel it marks by far more than 8 grey levels; a blur on flat brick mostly not
    assert shares["faint_share"]["scratch"] == shares["faint_share"]["stain"] == 0
    assert shares["faint_share"]["blur"] > 0.5
    # the same reading made another way: the faint pixels weighted out rather than dropped
    _, maps = ganspect.load(tmp_path / "brick-tiny-seed0-model.pt").score_and_map(split["test"])
    masks = split["masks"].numpy()
    faint = masks & ((split["test"] - split["before"]).abs()[:, 0].numpy() < 8 / 255)
    expected = roc_auc_score(masks.ravel(), np.asarray(maps).ravel(), sample_weight=(~faint).ravel().astype(float))
    assert row["RepairGAN"]["pixel_auroc_visible"] == pytest.approx(expected, abs=1e-9)
    assert row["RepairGAN"]["pixel_auroc_visible"] != row["RepairGAN"]["pixel_auroc"]
    assert "faint pixels left out" in capsys.readouterr().out


def test_faint_defects_refuses_a_threshold_outside_the_grey_levels(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["faint_defects.py", "--textures", str(tmp_path), "--faint", "0", "m.pt"])
    with pytest.raises(SystemExit):
        faint_defects.main()
    assert "--faint: expected grey levels in (0, 255], got 0.0" in capsys.readouterr().err
