"""What a new user hit with real files and ordinary mistakes: nothing lost, nothing wrong in silence, one-line errors.
CLI items run the real command line (in-process through `main`, or as a subprocess where the process matters)."""

import csv
import json
import os
import shutil
import stat
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

import ganspect
from ganspect import checkpoint, data
from ganspect.cli import main
from ganspect.data import read_image

from .conftest import MNIST, need

TINY = ["--image-size", "16", "--width", "8", "--latent-dim", "8", "--steps", "4", "--rounds", "2", "--mapping",
        "encoder", "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory, digits):
    """Real digits as an MVTec-style folder: train/good, test/good, test/other (no masks)."""
    root = tmp_path_factory.mktemp("digits")
    for sub, images in (("train/good", digits.train[:24]), ("test/good", digits.train[24:30]),
                        ("test/other", digits.test[digits.test_labels == 1][:6])):  # fmt: skip
        (root / sub).mkdir(parents=True)
        for i, image in enumerate(images):
            Image.fromarray(image).save(root / sub / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def tiny_model(digit_folder, tmp_path_factory):
    model = tmp_path_factory.mktemp("model") / "m.pt"
    assert main(["-q", "fit", "anogan", str(digit_folder), "-o", str(model), *TINY]) == 0
    return model


# --- work lost -------------------------------------------------------------------------------------------------


def cli(*args):
    """The real command line, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "ganspect", "-q", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_fit_into_a_folder_stops_before_training(digit_folder, tmp_path):
    (tmp_path / "models").mkdir()
    # a million steps: only a check before training can end this run in seconds
    result = cli("fit", "anogan", digit_folder, "-o", tmp_path / "models", *TINY, "--steps", "1000000")
    assert result.returncode == 2 and "models: expected a file to write, but it is a folder" in result.stderr
    assert not (tmp_path / "models.partial").exists()


def test_partial_state_survives_a_failed_model_write(digit_folder, tmp_path, capsys, monkeypatch):
    import errno

    def disk_full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(ganspect.Detector, "save", disk_full)
    assert main(["-q", "fit", "anogan", str(digit_folder), "-o", str(tmp_path / "m.pt"), *TINY]) == 1
    assert "No space left" in capsys.readouterr().err
    assert (tmp_path / "m.pt.partial").exists()  # the training is still there to resume from


def test_score_keeps_going_past_an_unreadable_file(tiny_model, digit_folder, tmp_path):
    folder = tmp_path / "imgs"
    shutil.copytree(digit_folder / "test" / "good", folder)
    (folder / "zzz_last.png").write_bytes(b"\x89PNG not really")
    out = tmp_path / "s.csv"
    result = cli("score", tiny_model, folder, "--csv", out)
    assert result.returncode == 1 and "1 of 7 images could not be read" in result.stderr
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 7 and [r["score"] != "" for r in rows] == [True] * 6 + [False]
    assert "cannot read it as an image" in rows[-1]["error"] and rows[0]["error"] == ""


def test_evaluate_never_mixes_two_runs(tiny_model, digit_folder, tmp_path, capsys, monkeypatch):
    out = tmp_path / "ev"
    args = ["-q", "evaluate", str(tiny_model), str(digit_folder), "--out", str(out), "--overlays", "3"]
    assert main(args) == 0
    (out / "overlays" / "from_an_older_run.png").write_bytes(b"old")
    assert main([*args[:-1], "2"]) == 0
    assert len(list((out / "overlays").iterdir())) == 2  # the older run's files are gone with it
    # a run that dies midway leaves the previous results whole, and no half-written folder
    before = sorted(p.name for p in out.rglob("*"))
    monkeypatch.setattr("ganspect.evaluate.write_report", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(args) == 130
    assert sorted(p.name for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev"]
    # a folder of someone else's files is refused before any scoring
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    assert main([*args[:5], str(tmp_path / "mine")]) == 2
    assert "not ganspect results" in capsys.readouterr().err
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


# --- wrong in silence ------------------------------------------------------------------------------------------


def test_16_bit_images_scale_by_the_format_not_the_image(tmp_path):
    low = np.full((8, 8), 200, np.uint16)
    high = low.copy()
    high[0, 0] = 60000  # another pixel past 255 must not change how 200 reads
    for name, arr in (("low", low), ("high", high)):
        Image.fromarray(arr).save(tmp_path / f"{name}.png")
    a, b = read_image(tmp_path / "low.png", 1), read_image(tmp_path / "high.png", 1)
    assert a[0, 4, 4] == b[0, 4, 4] == pytest.approx(round(200 * 255 / 65535) / 255)


@pytest.mark.parametrize(("field", "value"), [("image_size", 30), ("search_steps", -5), ("contamination", 5),
                                              ("channels", 3), ("image_size", 32)])  # fmt: skip
def test_fields_changed_after_fit_are_refused_before_scoring_and_saving(tiny_model, field, value, digits, tmp_path):
    det = ganspect.load(tiny_model)
    setattr(det, field, value)
    with pytest.raises(ValueError, match=field):
        det.score(digits.test[:2])
    with pytest.raises(ValueError, match=field):
        det.save(tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_scoring_fields_may_change_after_fit(tiny_model, digits):
    det = ganspect.load(tiny_model)
    det.batch_size, det.map_sigma = 3, 0.0
    assert det.score(digits.test[:4]).shape == (4,)


def test_anomalous_images_without_masks_are_counted(tiny_model, digit_folder, tmp_path):
    assert main(["-q", "evaluate", str(tiny_model), str(digit_folder), "--out", str(tmp_path / "ev")]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["anomalous_without_mask"] == 6 and "pixel_auroc" not in metrics
    assert "anomalous_without_mask" in (tmp_path / "ev" / "report.html").read_text()


def test_outputs_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        checkpoint.write_text(tmp_path / "new.txt", "x")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644  # not mkstemp's 0600
        (tmp_path / "shared.txt").write_text("old")
        os.chmod(tmp_path / "shared.txt", 0o664)
        checkpoint.write_text(tmp_path / "shared.txt", "new")
        assert stat.S_IMODE((tmp_path / "shared.txt").stat().st_mode) == 0o664  # a replaced file keeps its mode
        os.chmod(tmp_path / "shared.txt", 0o444)
        with pytest.raises(OSError, match="read-only"):
            checkpoint.write_text(tmp_path / "shared.txt", "again")
        assert (tmp_path / "shared.txt").read_text() == "new"
        with pytest.raises(ValueError, match="read-only"):
            checkpoint.check_output(tmp_path / "shared.txt")
    finally:
        os.umask(old)


def test_patch_size_errors_name_patch_size():
    with pytest.raises(ValueError, match="^patch_size: must be 4 or 7 times"):
        ganspect.AnoGAN(image_size=64, patch_size=7).fit(np.zeros((4, 64, 64), np.uint8))


def test_hidden_files_are_skipped_and_counted(tmp_path, caplog):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "._a.png").write_bytes(b"\x00\x05\x16\x07 a macOS resource fork")
    (tmp_path / ".DS_Store").write_bytes(b"\x00")
    assert data.list_images(tmp_path) == [tmp_path / "a.png"]
    assert "skipped 1 hidden file" in caplog.text  # .DS_Store is no image file to begin with


# --- tracebacks and rough edges --------------------------------------------------------------------------------


def test_images_over_the_pixel_limit_get_one_line(tmp_path, capsys, tiny_model, monkeypatch):
    Image.fromarray(np.zeros((50, 40), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(data, "MAX_PIXELS", data.MAX_PIXELS)  # restored after the test
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    args = ["score", str(tiny_model), str(tmp_path / "big.png"), "--csv", str(tmp_path / "s.csv")]
    assert main(["-q", "--max-pixels", "1000", *args]) == 1
    assert "40x50 is over the 1,000 pixels" in (tmp_path / "s.csv").read_text()
    assert main(["-q", "--max-pixels", "2000", *args]) == 0


def test_large_images_are_shrunk_while_8_bit_and_read_the_same(tmp_path):
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    Image.fromarray(small).resize((4096, 4096), Image.NEAREST).save(tmp_path / "large.png")  # 16.8 Mpx
    direct = data.resize(read_image(tmp_path / "large.png", 1), 32)  # the full-size float path
    shrunk = data.ImageFiles([tmp_path / "large.png"], 1, 32)[0]
    assert shrunk.shape == (1, 32, 32)
    np.testing.assert_allclose(shrunk.numpy(), direct.numpy(), atol=0.02)


def test_version_and_help_read_well():
    version = subprocess.run([sys.executable, "-m", "ganspect", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == f"ganspect {ganspect.__version__}"
    helped = subprocess.run([sys.executable, "-m", "ganspect", "fit", "--help"], capture_output=True, text=True)
    assert "(*, image_size" not in helped.stdout and "OGNet (CVPR 2020)" in helped.stdout


def test_mnist_split_raises_no_warning():
    from ganspect.data import one_class_mnist

    split = one_class_mnist(need(MNIST), 0)
    det = ganspect.PixelGaussian(image_size=28, device="cpu").fit(split.train[:100])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det.score(split.test[:10])


def test_demo_writes_a_report(tmp_path, monkeypatch):
    from ganspect import demo

    monkeypatch.setattr(demo, "DEMO_SETTINGS", {**demo.DEMO_SETTINGS, "steps": 4, "rounds": 2, "search_steps": 3})
    monkeypatch.setattr(demo, "ANOMALIES_PER_DIGIT", 2)
    demo.run_demo(tmp_path / "demo_out", progress=False)
    written = sorted(p.name for p in (tmp_path / "demo_out").iterdir())
    assert written == [".ganspect-results", "metrics.json", "model.pt", "overlays", "report.html"]
    report = (tmp_path / "demo_out" / "report.html").read_text()
    assert "Validation at fit time" in report and "synthetic defects</td><td class='v'>blob,cutpaste,scar" in report
