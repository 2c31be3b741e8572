"""AnoGAN specifics: the search, the score's parts, and quality on real MNIST digits."""

import time

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import ganspect
import ganspect.detector
from ganspect.anogan import SMALL_SET_AVERAGE
from ganspect.cli import build_parser
from ganspect.data import one_class_mnist

from .conftest import MNIST, assert_same_networks, need


@pytest.fixture(scope="module")
def small_gan(digits):
    return ganspect.AnoGAN(
        image_size=16, width=16, latent_dim=16, steps=10, rounds=2, batch_size=16, search_steps=60, threshold_images=8,
        device="cpu",
    ).fit(digits.train)  # fmt: skip


def unit_images(digits, n: int) -> torch.Tensor:
    x = torch.from_numpy(digits.test[:n]).float()[:, None] / 255
    return torch.nn.functional.interpolate(x, size=16, mode="bilinear", antialias=True)


def test_search_lowers_the_loss_and_score_is_the_papers_formula(small_gan, digits):
    det, x = small_gan, unit_images(digits, 6)
    real = x * 2 - 1
    feat = det.discriminator_.features(real)
    lam = det.disc_weight
    with torch.no_grad():
        r0, d0, _ = det._losses(real, feat, det.initial_latents(x))
        r, d, fake = det._losses(real, feat, det.search(x))
    assert ((1 - lam) * r + lam * d < (1 - lam) * r0 + lam * d0).all()  # every image's search made progress
    scores, maps = det._score_batch(x)
    torch.testing.assert_close(scores, (1 - lam) * r + lam * d)  # A(x) = (1 - lambda) R(x) + lambda D(x)
    torch.testing.assert_close(maps, (x - (fake + 1) / 2).abs().mean(1))  # residual in [0, 1] pixel units


def test_search_leaves_the_networks_untouched(small_gan, digits):
    det = small_gan
    before = {k: v.clone() for k, v in det.generator_.state_dict().items()}
    det.score(digits.test[:4])
    assert all(torch.equal(before[k], v) for k, v in det.generator_.state_dict().items())
    assert all(p.grad is None for p in det.generator_.parameters())


@pytest.mark.parametrize(
    ("field", "value"), [("search_patience", -1), ("search_patience", True), ("search_min_delta", 1.0)]
)
def test_bad_early_stopping_setting_names_itself(field, value):
    with pytest.raises(ValueError, match=field):
        ganspect.AnoGAN(**{field: value})._check_params()


def reference_search(det, x: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.optim.Adam on each z: z after every step (steps + 1, B, latent) and the loss before it (steps, B)."""
    real = x * 2 - 1
    feat = det.discriminator_.features(real)
    z = det.initial_latents(x).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=det.search_lr)
    zs, losses = [z.detach().clone()], []
    for _ in range(steps):
        r, d, _ = det._losses(real, feat, z)
        loss = (1 - det.disc_weight) * r + det.disc_weight * d
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        zs.append(z.detach().clone())
        losses.append(loss.detach())
    return torch.stack(zs), torch.stack(losses)


def test_search_is_torch_adam_on_each_z(small_gan, digits):
    """The written-out Adam must be torch.optim.Adam: the same z after Gamma steps."""
    x = unit_images(digits, 5)
    zs, _ = reference_search(small_gan, x, small_gan.search_steps)
    torch.testing.assert_close(small_gan.search(x), zs[-1], rtol=1e-4, atol=1e-5)


def stopping_steps(losses: torch.Tensor, patience: int, min_delta: float) -> list[int]:
    """The early-stopping rule replayed on each image's loss trajectory: the step after which it stops."""
    stops = []
    for trajectory in losses.T.tolist():
        best, stale, stop = float("inf"), 0, len(trajectory)
        for step, loss in enumerate(trajectory, start=1):
            best, stale = (loss, 0) if loss < best * (1 - min_delta) else (best, stale + 1)
            if stale >= patience:
                stop = step
                break
        stops.append(stop)
    return stops


def test_early_stopping_stops_each_image_on_its_own(small_gan, digits):
    """With search_patience, each image's search ends the step its own loss has gone `patience` steps without
    falling by min_delta: its z is the full search's z at that step, alone or in any batch."""
    det, x = small_gan, unit_images(digits, 8)
    zs, losses = reference_search(det, x, det.search_steps)
    patience = 5
    # a min_delta that some images meet over the first window and some do not, so they stop at different steps;
    # halfway between two images' decreases, so no image's stop hangs on float rounding at the boundary
    first_window = (1 - losses[patience] / losses[0]).sort().values
    min_delta = float(first_window[len(x) // 2 - 1 : len(x) // 2 + 1].mean())
    stops = stopping_steps(losses, patience, min_delta)
    assert len(set(stops)) > 1 and min(stops) < det.search_steps
    det.search_patience, det.search_min_delta = patience, min_delta
    try:
        early = det.search(x)
        alone = torch.cat([det.search(x[i : i + 1]) for i in range(len(x))])
    finally:
        det.search_patience = 0
    expected = torch.stack([zs[stop, i] for i, stop in enumerate(stops)])
    torch.testing.assert_close(early, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(alone, expected, rtol=1e-4, atol=1e-5)


def test_mnist_digit0_auroc_floor():
    """Trained on 3,000 zeros; tested on 50 images of each digit (seeded). Measured 0.934 (seed 0,
    benchmarks/compare_mnist.py); a broken search or a model that learned nothing scores near 0.5."""
    split = one_class_mnist(need(MNIST), 0)
    rng = np.random.default_rng(0)
    test_idx = np.concatenate(
        [rng.choice(np.flatnonzero(split.test_classes == d), 50, replace=False) for d in range(10)]
    )
    det = ganspect.AnoGAN(image_size=28, width=64, steps=235, search_steps=100, threshold_images=64, device="cpu")
    start = time.perf_counter()
    det.fit(split.train[:3000])
    scores = det.score(split.test[test_idx])
    auroc = roc_auc_score(split.test_labels[test_idx], scores)
    print(f"MNIST digit 0: AUROC {auroc:.4f} in {time.perf_counter() - start:.0f} s")
    assert auroc > 0.90


@pytest.fixture(scope="module")
def wgan_gp(digits):
    return ganspect.AnoGAN(
        image_size=16, width=32, latent_dim=32, steps=60, batch_size=16, mapping="encoder", gan="wgan-gp",
        threshold_images=64, device="cpu",
    ).fit(digits.train)  # fmt: skip


def test_wgan_gp_learns_zeros_and_its_critic_keeps_unit_gradients(wgan_gp, digits):
    """f-AnoGAN's GAN: the encoder's score separates digits from zeros, and the penalty holds the critic's gradient
    norm near 1 on points between real and generated images (a missing or mis-signed penalty lets it drift)."""
    auroc = roc_auc_score(digits.test_labels, wgan_gp.score(digits.test))
    real = torch.from_numpy(digits.train[:64]).float()[:, None] / 255
    real = torch.nn.functional.interpolate(real, size=16, mode="bilinear", antialias=True) * 2 - 1
    torch.manual_seed(0)
    with torch.no_grad():
        fake = wgan_gp.generator_(torch.randn(len(real), wgan_gp.latent_dim))
    mix = torch.rand(len(real), 1, 1, 1)
    between = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(wgan_gp.discriminator_(between).sum(), between)
    norms = grad.flatten(1).norm(dim=1)
    print(f"WGAN-GP, digits 0 normal: AUROC {auroc:.4f}, critic gradient norm {norms.mean():.3f}")
    assert auroc > 0.95
    assert 0.5 < norms.mean() < 2.0  # measured 1.27-1.34 over two seeds; 39 with gp_weight=0
    assert wgan_gp.history_["loss_disc"][-1] < 0  # the critic rates real images above generated ones


@pytest.mark.parametrize(("field", "value"), [("gan", "wgan"), ("critic_steps", 0), ("gp_weight", -1.0)])
def test_bad_gan_setting_names_itself(field, value):
    with pytest.raises(ValueError, match=field):
        ganspect.AnoGAN(**{field: value})._check_params()


AVERAGED = dict(image_size=16, width=8, latent_dim=8, steps=12, rounds=3, batch_size=16, mapping="encoder",
                threshold_images=16, generator_average=0.9, device="cpu")  # fmt: skip


def test_averaged_generator_is_the_moving_average_of_gs_weights_with_its_own_statistics(digits, monkeypatch):
    """generator_average: the fitted G is the average, step by step, of the trained G's weights, corrected for its
    start (followed here outside the library, as Adam's bias-corrected moment: a sum from zero divided by
    1 - d^t, so nothing of G's initial weights), and its BatchNorm statistics are those of its own images, not G's."""
    trained, sums, steps = {}, {}, []

    def follow(det, average, gen, step, decay):
        follow_once(det, average, gen, step, decay)
        steps.append(step)
        for key, weight in gen.named_parameters():
            sums[key] = 0.9 * sums.get(key, 0) + 0.1 * weight.detach()
        trained["gen"] = gen

    follow_once = ganspect.AnoGAN._follow
    monkeypatch.setattr(ganspect.AnoGAN, "_follow", follow)
    det = ganspect.AnoGAN(**AVERAGED).fit(digits.train[:64])
    assert steps == list(range(1, AVERAGED["steps"] + 1))
    for key, weight in det.generator_.named_parameters():
        torch.testing.assert_close(weight, sums[key] / (1 - 0.9 ** steps[-1]))
    assert not torch.equal(det.generator_.net[0].weight, trained["gen"].net[0].weight)
    # each BatchNorm's running variance: that of its inputs when the average generates (fresh draws; eval mode,
    # so the statistics are only read); G's own, or the initial ones, are far from it
    norms = [m for m in det.generator_.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    inputs = []
    hooks = [m.register_forward_hook(lambda m, args, out: inputs.append(args[0].var((0, 2, 3)))) for m in norms]
    torch.manual_seed(1)
    det.generator_(torch.randn(2000, AVERAGED["latent_dim"]))
    for hook in hooks:
        hook.remove()
    for norm, var in zip(norms, inputs, strict=True):
        assert ((norm.running_var / var - 1).abs() < 0.2).all()
    assert not det.generator_.training and all(not p.requires_grad for p in det.generator_.parameters())


@pytest.mark.parametrize("stop", ["within the GAN", "at the GAN's end", "after an encoder round"])
def test_averaged_generator_resumes_to_the_same_model(digits, tmp_path, monkeypatch, stop):
    """Killed after the GAN's first round (the average's step count must go on from 4, not restart), where the
    average's statistics are not yet measured (the GAN's last round saved), or after they were and saved with an
    encoder round: resumed, the model of an unbroken run, statistics included."""
    images = digits.train[:64]
    whole = ganspect.AnoGAN(**AVERAGED).fit(images)
    broken = ganspect.AnoGAN(**AVERAGED)
    if stop == "within the GAN":
        follow = broken._follow

        def stop_in_round_two(average, gen, step, decay):
            if step == AVERAGED["steps"] // AVERAGED["rounds"] + 1:
                raise KeyboardInterrupt  # the first step of round 2: round 1's state was saved
            follow(average, gen, step, decay)

        broken._follow = stop_in_round_two
        saved_round = 1
    elif stop == "at the GAN's end":
        monkeypatch.setattr(broken, "_average_statistics", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
        saved_round = AVERAGED["rounds"]
    else:
        validate = broken._validate_round

        def stop_after_one(index, modules, best):
            validate(index, modules, best)
            if index == AVERAGED["rounds"] + 1:
                raise KeyboardInterrupt  # after the first encoder round's state was saved, before the second's

        broken._validate_round = stop_after_one
        saved_round = AVERAGED["rounds"] + 1
    with pytest.raises(KeyboardInterrupt):
        broken.fit(images, checkpoint=tmp_path / "m.partial")
    assert torch.load(tmp_path / "m.partial", weights_only=True)["round"] == saved_round
    resumed = ganspect.AnoGAN(**AVERAGED).fit(images, checkpoint=tmp_path / "m.partial", resume=True)
    assert_same_networks(whole, resumed, f"after resuming {stop}")
    assert whole.history_ == resumed.history_ and whole.threshold_ == resumed.threshold_


def test_automatic_average_follows_the_sets_size(digits, monkeypatch):
    """generator_average=None (the default) averages G at SMALL_SET_AVERAGE on a set smaller than SMALL_SET_BELOW
    and keeps the last G on a larger one; the command line leaves it None unless given a decay."""

    def generator(**settings):
        # 32 train, 8 held out; augment pinned, since its None also decides by the set's size
        det = ganspect.AnoGAN(**AVERAGED | {"augment": False} | settings).fit(digits.train[:40])
        return det.generator_.state_dict()

    averaged, last = generator(generator_average=SMALL_SET_AVERAGE), generator(generator_average=0.0)
    assert ganspect.AnoGAN().generator_average is None
    assert_same_state(generator(generator_average=None), averaged)
    monkeypatch.setattr(ganspect.detector, "SMALL_SET_BELOW", 32)
    assert_same_state(generator(generator_average=None), last)  # no longer fewer than SMALL_SET_BELOW
    assert any(not torch.equal(averaged[key], last[key]) for key in averaged)
    parse = build_parser().parse_args
    assert parse(["fit", "anogan", "DATA", "-o", "m.pt"]).generator_average is None
    assert parse(["fit", "anogan", "DATA", "-o", "m.pt", "--generator-average", "0.99"]).generator_average == 0.99


def assert_same_state(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("value", [-0.1, 1.0, "0.9"])
def test_bad_generator_average_names_itself(value):
    with pytest.raises(ValueError, match="generator_average"):
        ganspect.AnoGAN(generator_average=value)._check_params()


def test_refined_encoder_ends_closer_and_scores_izi_f_where_the_search_ends(digits):
    """refine_steps: AnoGAN's search, started from E(x), lowers each image's search loss below E(x)'s own, and the
    score and map are izi_f's and the residual at the z it ends on; refine_steps=0 is E(x) itself."""
    det = ganspect.AnoGAN(image_size=16, width=16, latent_dim=16, steps=40, rounds=2, batch_size=16, mapping="encoder",
                          threshold_images=16, device="cpu").fit(digits.train)  # fmt: skip
    x = unit_images(digits, 8)
    real = x * 2 - 1
    plain_scores, _ = det._score_batch(x)
    det.refine_steps = 30
    scores, maps = det._score_batch(x)
    with torch.no_grad():
        start = det.encoder_(real)
    z = det.search(x, start=start, steps=30)
    feat, lam = det.discriminator_.features(real), det.disc_weight
    with torch.no_grad():
        r0, d0, _ = det._losses(real, feat, start)
        r1, d1, _ = det._losses(real, feat, z)
        expected, fake = det._izi_f(real, z)
    assert ((1 - lam) * r1 + lam * d1 < (1 - lam) * r0 + lam * d0).all()  # every image's z moved closer
    torch.testing.assert_close(scores, expected)
    torch.testing.assert_close(maps, (real - fake).abs().mean(1) / 2)
    assert not torch.allclose(scores, plain_scores)
    det.refine_steps = 0
    torch.testing.assert_close(det._score_batch(x)[0], plain_scores)


def test_refine_steps_needs_the_encoder():
    with pytest.raises(ValueError, match="refine_steps=0 or mapping='encoder'"):
        ganspect.AnoGAN(refine_steps=10)._check_params()
    with pytest.raises(ValueError, match="refine_steps"):
        ganspect.AnoGAN(mapping="encoder", refine_steps=-1)._check_params()
