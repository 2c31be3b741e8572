"""Ensembles: fits of one method joined, their finished scores and maps averaged, through the API, the CLI and ONNX."""

import numpy as np
import pytest
import torch
from PIL import Image

import ganspect
from ganspect.cli import main

SMALL = dict(image_size=16, width=4, crop_size=16, steps=6, rounds=3, batch_size=16, threshold_images=32, device="cpu")


@pytest.fixture(scope="module")
def members(digits):
    return [ganspect.RepairGAN(**SMALL, seed=seed).fit(digits.train) for seed in (0, 1, 2)]


@pytest.fixture(scope="module")
def ensemble(members):
    return ganspect.Ensemble(members)


def test_scores_maps_and_threshold_are_the_members_means(ensemble, members, digits):
    images = digits.test[:20]
    scores, maps = ensemble.score_and_map(images)
    alone = [m.score_and_map(images) for m in members]
    np.testing.assert_allclose(scores, np.mean([s for s, _ in alone], 0), rtol=1e-6)
    np.testing.assert_allclose(maps, np.mean([m for _, m in alone], 0), rtol=1e-6)
    assert scores.dtype == np.float32 and maps.shape == (20, 16, 16)
    assert ensemble.threshold_ == pytest.approx(np.mean([m.threshold_ for m in members]))
    assert np.array_equal(ensemble.predict(images), (scores > ensemble.threshold_).astype(int))
    # the members differ (other seeds), so the average is not any one of them
    assert not any(np.allclose(scores, s) for s, _ in alone)


def test_score_does_not_depend_on_batch_mates(ensemble, digits):
    images = digits.test[:12]
    together = ensemble.score(images)
    alone = np.array([ensemble.score(images[i : i + 1])[0] for i in (0, 5, 11)])
    np.testing.assert_allclose(alone, together[[0, 5, 11]], rtol=1e-4)
    np.testing.assert_allclose(ensemble.score(images[::-1])[::-1], together, rtol=1e-4)


def test_save_load_gives_identical_scores(ensemble, digits, tmp_path):
    ensemble.threshold_ = 0.75  # a user's own threshold is kept
    try:
        ensemble.save(tmp_path / "e.pt")
    finally:
        ensemble.threshold_ = float(np.mean([m.threshold_ for m in ensemble.members]))
    again = ganspect.load(tmp_path / "e.pt")
    assert type(again) is ganspect.Ensemble and again.threshold_ == 0.75
    assert [m.seed for m in again.members] == [0, 1, 2]
    np.testing.assert_array_equal(again.score(digits.test[:8]), ensemble.score(digits.test[:8]))
    raw = torch.load(tmp_path / "e.pt", weights_only=True)  # a plain dict; each member carries its hyperparameters
    assert raw["detector"] == "Ensemble" and raw["members"][1]["params"]["seed"] == 1
    raw["members"][1]["detector"] = "Nonesuch"  # a file from a ganspect that knows other methods
    torch.save(raw, tmp_path / "odd.pt")
    with pytest.raises(ValueError, match=r"odd\.pt: member 1 is an unknown detector 'Nonesuch'"):
        ganspect.load(tmp_path / "odd.pt")


def test_members_that_cannot_be_averaged_are_refused(members, digits):
    with pytest.raises(ValueError, match="at least two"):
        ganspect.Ensemble(members[:1])
    baseline = ganspect.PixelGaussian(image_size=16, device="cpu").fit(digits.train)
    with pytest.raises(ValueError, match="one method.*RepairGAN.*PixelGaussian"):
        ganspect.Ensemble([members[0], baseline])
    larger = ganspect.RepairGAN(**{**SMALL, "image_size": 32}).fit(digits.train)
    with pytest.raises(ValueError, match="member 1 has image_size=32"):
        ganspect.Ensemble([members[0], larger])
    with pytest.raises(ganspect.NotFittedError):
        ganspect.Ensemble([members[0], ganspect.RepairGAN(**SMALL)])


def test_the_command_line_joins_scores_and_names_a_bad_member(members, digits, tmp_path, capsys):
    paths = []
    for k, member in enumerate(members):
        paths.append(tmp_path / f"m{k}.pt")
        member.save(paths[-1])
    joined = tmp_path / "joined.pt"
    assert main(["-q", "ensemble", *map(str, paths), "-o", str(joined)]) == 0
    assert "joined 3 RepairGAN models" in capsys.readouterr().out
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(digits.test[:5]):
        Image.fromarray(np.asarray(image)).save(folder / f"digit{i}.png")
    assert main(["-q", "score", str(joined), str(folder), "--csv", str(tmp_path / "s.csv")]) == 0
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 6  # a header and five images

    ganspect.RepairGAN(**{**SMALL, "image_size": 32}).fit(digits.train).save(tmp_path / "large.pt")
    assert main(["-q", "ensemble", str(paths[0]), str(tmp_path / "large.pt"), "-o", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "image_size" in err and "large.pt" in err
    assert not (tmp_path / "x.pt").exists()


def test_onnx_averages_the_members_in_one_graph(ensemble, digits, tmp_path):
    pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")
    from ganspect.export import export_onnx, score_with_onnx

    export_onnx(ensemble, tmp_path / "e.onnx")
    scores, maps = score_with_onnx(tmp_path / "e.onnx", ensemble, digits.test[:10])
    expected_scores, expected_maps = ensemble.score_and_map(digits.test[:10])
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(maps, expected_maps, rtol=1e-4, atol=1e-5)
