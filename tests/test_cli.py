"""The CLI end to end on real photos with masks (../shared/data/cookies), and its bad-input errors."""

import csv
import dataclasses
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganspect.cli import main
from ganspect.detector import detector_classes

from .conftest import COOKIES, need

SMALL = ["--image-size", "32", "--width", "16", "--steps", "4", "--rounds", "2", "--search-steps", "10",
         "--threshold-images", "8", "--device", "cpu"]  # fmt: skip
# patch-mode AnoGAN with f-AnoGAN's encoder, the set-up for large photos; measured pixel AUROC 0.836, PRO 0.608
# (image AUROC 0.775); an earlier shuffling order gave 0.78 / 0.48 (image 0.22), so the floors leave room
PATCH_ENCODER = ["--image-size", "128", "--patch-size", "32", "--channels", "3", "--width", "32", "--steps", "400",
                 "--mapping", "encoder", "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def cookie_model(tmp_path_factory):
    data = need(COOKIES)
    model = tmp_path_factory.mktemp("model") / "cookies.pt"
    assert main(["-q", "fit", "anogan", str(data), "-o", str(model), *PATCH_ENCODER]) == 0
    return model


def test_fit_score_evaluate_on_cookies(cookie_model, tmp_path):
    assert (
        main(
            [
                "-q",
                "score",
                str(cookie_model),
                str(COOKIES / "test" / "good"),
                str(COOKIES / "test" / "crack" / "anomaly-1.jpg"),
                "--csv",
                str(tmp_path / "s.csv"),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader((tmp_path / "s.csv").read_text().splitlines()))
    assert len(rows) == 15 and {r["predicted"] for r in rows} <= {"0", "1"}
    assert all(np.isfinite(float(r["score"])) for r in rows)

    out = tmp_path / "eval"
    assert main(["-q", "evaluate", str(cookie_model), str(COOKIES), "--out", str(out), "--overlays", "4"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("image_auroc", "image_ap", "image_f1", "pixel_auroc", "pixel_pro"):
        assert 0 <= metrics[key] <= 1
    # floors under what was measured (see PATCH_ENCODER); a map of noise gives about 0.5 and 0.15
    assert metrics["pixel_auroc"] > 0.72 and metrics["pixel_pro"] > 0.38
    assert metrics["n_images"] == 46 and metrics["n_anomalous"] == 32
    overlays = sorted((out / "overlays").glob("*.png"))
    assert len(overlays) == 4
    assert Image.open(overlays[0]).size[1] == 768  # heat maps go back to the photo's own size (576x768 WxH)
    report = (out / "report.html").read_text()
    assert report.count("data:image/jpeg;base64,") >= 46  # the gallery shows every test image here, embedded
    assert 'src="http' not in report and "ROC curve" in report


def test_python_dash_m_runs():
    result = subprocess.run([sys.executable, "-m", "ganspect", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "evaluate" in result.stdout


@pytest.mark.parametrize("cls", detector_classes().values(), ids=lambda cls: cls.command)
def test_every_detectors_fit_help_prints_every_field(cls, capsys):
    """`ganspect fit <detector> --help` lists each field's flag; a field's help with a % in it once broke it."""
    with pytest.raises(SystemExit) as stop:
        main(["fit", cls.command, "--help"])
    assert stop.value.code == 0
    shown = capsys.readouterr().out
    missing = [f.name for f in dataclasses.fields(cls) if "--" + f.name.replace("_", "-") not in shown]
    assert not missing


def _mvtec_copy(tmp_path, n_train=3):
    root = tmp_path / "data"
    (root / "train" / "good").mkdir(parents=True)
    for p in sorted((COOKIES / "train" / "good").iterdir())[:n_train]:
        shutil.copy(p, root / "train" / "good" / p.name)
    return root


def test_bad_inputs_name_the_file(tmp_path, capsys, cookie_model):
    need(COOKIES)
    # missing train/good
    assert main(["-q", "fit", "anogan", str(tmp_path), "-o", str(tmp_path / "m.pt"), *SMALL]) == 2
    assert "train/good" in capsys.readouterr().err
    # an unreadable image among good ones
    root = _mvtec_copy(tmp_path)
    (root / "train" / "good" / "zz_broken.png").write_bytes(b"\x89PNG garbage")
    assert main(["-q", "fit", "anogan", str(root), "-o", str(tmp_path / "m.pt"), *SMALL]) == 2
    assert "zz_broken.png" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()  # nothing half-written
    # an empty folder
    (tmp_path / "empty").mkdir()
    assert main(["-q", "score", str(cookie_model), str(tmp_path / "empty"), "--csv", str(tmp_path / "s.csv")]) == 2
    assert "found none" in capsys.readouterr().err
    # a mask whose size differs from its image
    root = tmp_path / "masked"
    (root / "test" / "crack").mkdir(parents=True)
    (root / "ground_truth" / "crack").mkdir(parents=True)
    shutil.copy(COOKIES / "test" / "crack" / "anomaly-1.jpg", root / "test" / "crack" / "anomaly-1.jpg")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "ground_truth" / "crack" / "anomaly-1_mask.png")
    assert main(["-q", "evaluate", str(cookie_model), str(root), "--out", str(tmp_path / "ev")]) == 2
    assert "anomaly-1_mask.png" in capsys.readouterr().err
    # a model file that is not one
    (tmp_path / "fake.pt").write_text("hello")
    assert (
        main(
            ["-q", "score", str(tmp_path / "fake.pt"), str(COOKIES / "test" / "good"), "--csv", str(tmp_path / "s.csv")]
        )
        == 2
    )
    assert "fake.pt" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["ognet", "--width", "8", "--old-round", "1", "--phase-two-steps", "3"],
        ["repairgan", "--width", "4", "--crop-size", "16", "--defects", "blob,scar", "--adversarial-weight", "0.1"],
    ],
)
def test_the_other_gans_through_the_same_commands(tmp_path, command, capsys):
    data = need(COOKIES)
    model = tmp_path / "m.pt"
    small = ["--image-size", "32", "--steps", "4", "--rounds", "2", "--threshold-images", "8", "--device", "cpu"]
    assert main(["-q", "fit", *command, str(data), "-o", str(model), *small]) == 0
    assert "on 25 images in" in capsys.readouterr().out  # they train on the photos as they are by default
    assert main(["-q", "evaluate", str(model), str(data), "--out", str(tmp_path / "ev"), "--overlays", "2"]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert 0 <= metrics["image_auroc"] <= 1 and 0 <= metrics["pixel_auroc"] <= 1


@pytest.mark.parametrize("command", ["gaussian", "pca"])
def test_the_baselines_through_the_same_commands(tmp_path, command, capsys):
    """The baselines fit in closed form, with no training processes: the command still writes the model."""
    data = need(COOKIES)
    model = tmp_path / "m.pt"
    assert main(["-q", "fit", command, str(data), "-o", str(model), "--channels", "3", "--device", "cpu"]) == 0
    assert "validation on 6 held-out normal images" in capsys.readouterr().out
    assert main(["-q", "evaluate", str(model), str(data), "--out", str(tmp_path / "ev"), "--overlays", "1"]) == 0
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["image_auroc"] > 0.9


def test_validation_folds_through_the_command_line(tmp_path, capsys):
    """--validation-folds 5: the fit says the rule was chosen over the folds, the model keeps it, the report says
    so; too many folds for the images is a one-line error naming the flag's field."""
    data = need(COOKIES)
    model = tmp_path / "m.pt"
    flags = ["--channels", "3", "--device", "cpu", "--image-score", "auto", "--map-sigma", "2"]
    assert main(["-q", "fit", "gaussian", str(data), "-o", str(model), "--validation-folds", "5", *flags]) == 0
    out = capsys.readouterr().out
    assert "rule chosen over 5 folds" in out
    assert re.search(r"\(AUROC by rule: model [01]\.\d{3}, map [01]\.\d{3}, reference [01]\.\d{3}\)", out)
    import ganspect

    assert ganspect.load(model).validation_["validation_folds"] == 5
    assert main(["-q", "evaluate", str(model), str(data), "--out", str(tmp_path / "ev"), "--overlays", "1"]) == 0
    assert "chosen over 5 folds" in (tmp_path / "ev" / "report.html").read_text()
    assert main(["-q", "fit", "gaussian", str(data), "-o", str(tmp_path / "n.pt"), "--validation-folds", "6",
                 *flags]) == 2  # fmt: skip
    assert "validation_folds: 6 folds of 6 held-out images need 36 normal images, got 31" in capsys.readouterr().err


def test_known_defects_through_the_command_line(tmp_path, capsys):
    """--known-defects DIR: the fit measures its image AUROC on them and says so; the model remembers how many,
    and the verdict validation chose on them; the report says so."""
    data = need(COOKIES)
    model = tmp_path / "m.pt"
    small = ["--image-size", "32", "--width", "4", "--crop-size", "16", "--steps", "4", "--rounds", "2",
             "--threshold-images", "8", "--device", "cpu", "--channels", "3", "--verdict", "auto"]  # fmt: skip
    known = data / "test" / "crack"
    assert main(["-q", "fit", "repairgan", str(data), "-o", str(model), "--known-defects", str(known), *small]) == 0
    out = capsys.readouterr().out
    assert "on 32 known defective images" in out
    import ganspect

    det = ganspect.load(model)
    assert det.validation_["known_defects"] == 32 and det.score_rule_ in ("judge", "repair")
    assert f"image score {det.score_rule_!r}" in out
    assert main(["-q", "evaluate", str(model), str(data), "--out", str(tmp_path / "ev"), "--overlays", "1"]) == 0
    assert "chosen on the 32 known defective images" in (tmp_path / "ev" / "report.html").read_text()
    assert main(["-q", "fit", "repairgan", str(data), "-o", str(tmp_path / "n.pt"), "--known-defects",
                 str(tmp_path / "none"), *small]) == 2  # fmt: skip
    assert "known_defects: " in capsys.readouterr().err


def test_disk_full_names_the_file_and_keeps_the_old_one(tmp_path, capsys, monkeypatch, digits):
    import errno

    import ganspect
    from ganspect import checkpoint

    det = ganspect.OGNet(image_size=16, width=8, steps=2, rounds=1, old_round=1, phase_two_steps=1, threshold_images=4,
                         device="cpu").fit(digits.train[:16])  # fmt: skip
    det.save(tmp_path / "m.pt")
    csv_path = tmp_path / "s.csv"
    csv_path.write_text("previous results\n")
    images = tmp_path / "imgs"
    images.mkdir()
    Image.fromarray(digits.test[0]).save(images / "a.png")

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.Path, "write_text", lambda self, *a, **k: full(self, a))
    assert main(["-q", "score", str(tmp_path / "m.pt"), str(images), "--csv", str(csv_path)]) == 1
    err = capsys.readouterr().err
    assert "s.csv" in err and "No space left on device" in err
    monkeypatch.undo()
    assert csv_path.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs", "m.pt", "s.csv"]  # no temporary left


def test_unreadable_folder_is_named(tmp_path, capsys, monkeypatch):
    from ganspect import data

    (tmp_path / "train" / "good").mkdir(parents=True)
    real_iterdir = data.Path.iterdir

    def refuse(self):
        if self.name == "good":
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(data.Path, "iterdir", refuse)  # chmod does not stop root, who runs CI
    assert main(["-q", "fit", "anogan", str(tmp_path), "-o", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert "good" in err and "Permission denied" in err
