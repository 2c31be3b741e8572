"""Faults: a training killed by a real signal resumes and ends with the model an uninterrupted run gives."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

import ganspect
from ganspect.train import RoundCheckpoint

ARGS = ["--image-size", "16", "--width", "16", "--latent-dim", "16", "--steps", "160", "--rounds", "8",
        "--batch-size", "16", "--search-steps", "5", "--threshold-images", "8", "--mapping", "encoder",
        "--encoder-steps", "80", "--device", "cpu",
        "--augment"]  # fmt: skip
# --augment: the flips and shifts are random draws too, and a resumed training must draw what an unbroken one did


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory, digits):
    """Real digits as an MVTec-style folder, upscaled so a round lasts long enough to be killed inside."""
    root = tmp_path_factory.mktemp("digits")
    (root / "train" / "good").mkdir(parents=True)
    for i, image in enumerate(np.concatenate([digits.train] * 4)):
        Image.fromarray(image).resize((64, 64), Image.BILINEAR).save(root / "train" / "good" / f"{i:04d}.png")
    return root


def fit_command(root, model, *extra):
    return [sys.executable, "-m", "ganspect", "-q", "fit", "anogan", str(root), "-o", str(model), *ARGS, *extra]


def test_kill_mid_training_then_resume_gives_the_same_model(digit_folder, tmp_path):
    whole = tmp_path / "whole.pt"
    subprocess.run(fit_command(digit_folder, whole), check=True, capture_output=True)

    model = tmp_path / "resumed.pt"
    partial = tmp_path / "resumed.pt.partial"
    proc = subprocess.Popen(fit_command(digit_folder, model), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if partial.exists() and torch.load(partial, weights_only=True)["round"] >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not model.exists() and partial.exists()
    killed_at = torch.load(partial, weights_only=True)["round"]
    assert 3 <= killed_at < 16

    subprocess.run(fit_command(digit_folder, model, "--resume"), check=True, capture_output=True)
    assert not partial.exists()  # removed once training completed
    a, b = ganspect.load(whole), ganspect.load(model)
    # equal up to float rounding that a GAN amplifies: bitwise equal in all but 2 of about 30 runs; in those,
    # generator weights differed after resuming from round 3 (by 0.0022 in the one measured, 2026-11-25). A broken
    # resume moves them further: optimizer states lost 0.0076, random state lost 0.0149 (checked by mutation)
    for name in a.network_names:
        for (key, x), y in zip(getattr(a, name + "_").state_dict().items(),
                               getattr(b, name + "_").state_dict().values(), strict=True):  # fmt: skip
            diff = (x.double() - y.double()).abs().max().item() if x.numel() else 0.0
            scale = max(1.0, x.double().abs().max().item()) if x.numel() else 1.0  # BatchNorm variances run large
            assert diff <= 4e-3 * scale, (
                f"{name}.{key} differs after resuming from round {killed_at}: max |difference| {diff:.3g}"
            )
    assert a.history_.keys() == b.history_.keys() and a.threshold_ == pytest.approx(b.threshold_, rel=1e-2)
    for key, values in a.history_.items():
        assert values == pytest.approx(b.history_[key], rel=1e-2, abs=1e-4), key


def test_resume_with_other_settings_is_refused(tmp_path, digits):
    det = ganspect.AnoGAN(image_size=16, width=8, latent_dim=8, steps=4, rounds=2, threshold_images=4, device="cpu")
    RoundCheckpoint(tmp_path / "p", {"steps": 3}, {}, {}, torch.Generator(), None).save(1, {})
    with pytest.raises(ValueError, match="other settings"):
        det.fit(digits.train[:20], checkpoint=tmp_path / "p", resume=True)


def test_divergence_names_the_round_and_writes_no_model(digits, tmp_path):
    det = ganspect.AnoGAN(
        image_size=16, width=8, latent_dim=8, steps=6, rounds=3, lr=1e30, threshold_images=4, device="cpu"
    )
    with pytest.raises(FloatingPointError, match=r"diverged in round \d.*no model was written"):
        det.fit(digits.train, checkpoint=tmp_path / "p")
