"""AnoGAN: Schlegl, Seeböck, Waldstein, Schmidt-Erfurth and Langs, "Unsupervised Anomaly Detection with
Generative Adversarial Networks to Guide Marker Discovery", IPMI 2017.

A DCGAN learns normal images. A query image x is mapped to the latent space by searching, with G and D frozen,
for the z whose G(z) is closest to x: Gamma Adam steps on z minimising
    L(z) = (1 - lambda) * sum |x - G(z)|  +  lambda * sum |f(x) - f(G(z))|
(the residual loss and the feature-matching discrimination loss, f being D's last convolutional layer).
The anomaly score is that loss at the last z, A(x) = (1 - lambda) R(x) + lambda D(x), and the residual
|x - G(z)| is the anomaly map.

Ours, not the paper's: all images of a batch are searched at once, one z per image. The summed loss gives each z
exactly its own image's gradient and Adam updates element-wise, so an image's search is the same alone or in a
batch. Each image's starting z is drawn from a generator seeded by `seed` and the image's own pixels, so a
score never depends on batch mates or on the order of images.

mapping="encoder" is f-AnoGAN's fast mapping (Schlegl, Seeböck, Waldstein, Langs and Schmidt-Erfurth, "f-AnoGAN:
Fast unsupervised anomaly detection with generative adversarial networks", Medical Image Analysis 2019): after the
GAN, an encoder E is trained with G and D frozen on the izi_f loss
    (1/n) ||x - G(E(x))||^2 + kappa (1/n_d) ||f(x) - f(G(E(x)))||^2,
and the same two terms, for z = E(x) in one forward pass, are the score. Ours: refine_steps > 0 starts AnoGAN's
latent search from E(x) and scores izi_f at the z it ends on, so a short search closes what E leaves between
G's manifold and x (measured on cookies in docs/measurements.md). The paper's GAN is a WGAN-GP (Gulrajani,
Ahmed, Arjovsky, Dumoulin and Courville, "Improved Training of Wasserstein GANs", NeurIPS 2017): gan="wgan-gp"
trains that (the DCGAN layout, with layer norm in the critic instead of BatchNorm), gan="dcgan" the IPMI paper's
DCGAN. Ours: the networks stay DCGAN-shaped (the paper's are residual), z is Gaussian so E has no tanh.
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .detector import SMALL_SET_BELOW, Detector, param, reproducible
from .nets import Discriminator, Encoder, Generator, dcgan_layout
from .train import make_fabric, round_lengths, shuffled_loader, take
from .validation import BestRound

MAPPINGS = ("search", "encoder")
GANS = ("dcgan", "wgan-gp")
AVERAGE_BATCHES = 50  # generated batches that measure the averaged generator's BatchNorm statistics
SMALL_SET_AVERAGE = 0.995  # generator_average=None's decay on a small set: about the last 200 steps weigh most


@dataclass(kw_only=True, eq=False)
class AnoGAN(Detector):
    """AnoGAN (IPMI 2017): a DCGAN and a latent search per image, or f-AnoGAN's encoder (mapping='encoder')."""

    steps: int = param(800, "optimizer steps of the GAN's training (and of the encoder's), one batch each")
    # On for small sets by default: a GAN given a few images learns those images, not the product. Small shifts
    # (not flips, which can make a product abnormal) lifted the encoder on 25 cookie photos from 0.74 to 0.85 image
    # AUROC (0.81 to 0.93 on one thread), the label-free proxy preferring them on every seed; on 5,200-6,500
    # digits of a kind they cost it on every digit (docs)
    augment: bool | None = param(
        None,
        "train on random shifts (up to image_size/16 px) of the images too, flips too with augment_flips; None: "
        f"only when fewer than {SMALL_SET_BELOW} images train (a small set, whose few images a GAN learns by heart)",
    )
    augment_flips: bool = param(
        False, "with augment: flips as well as shifts (off: a flipped product is not always normal)"
    )
    map_sigma: float = param(2.0, "std in pixels (at image_size) of the Gaussian that smooths the maps; 0: none")
    image_score: str = param(
        "auto",
        "'model': A(x) or izi_f; 'map': off the smoothed map; 'reference': off the map standardised by normal maps; "
        "'auto': validation picks",
    )
    latent_dim: int = param(100, "size of the latent vector z")
    width: int = param(64, "channels of the networks' widest-resolution layer (DCGAN's ngf/ndf)")
    search_steps: int = param(500, "Gamma: Adam steps of the latent search per image (the paper's 500)")
    search_lr: float = param(0.02, "Adam learning rate of the latent search")
    search_patience: int = param(
        0, "stop an image's search after this many steps without improvement (0: always Gamma steps, the paper's)"
    )
    search_min_delta: float = param(1e-3, "relative decrease of an image's loss that counts as an improvement")
    disc_weight: float = param(0.1, "lambda: weight of the discrimination loss in the search and in A(x)")
    mapping: str = param("search", "'search' (the paper's latent search) or 'encoder' (f-AnoGAN's izi_f encoder)")
    gan: str = param("dcgan", "'dcgan' (AnoGAN's GAN) or 'wgan-gp' (f-AnoGAN's: a layer-norm critic, gradient penalty)")
    critic_steps: int = param(5, "gan='wgan-gp': critic steps (one batch each) per generator step, n_critic")
    gp_weight: float = param(10.0, "gan='wgan-gp': weight of the gradient penalty")
    encoder_steps: int = param(0, "optimizer steps of the encoder's training (0: as many as the GAN's)")
    feature_weight: float = param(1.0, "kappa: weight of the feature term in the izi_f loss and score")
    refine_steps: int = param(
        0, "mapping='encoder': Adam steps of the latent search started from z = E(x), scored at its end (0: E(x))"
    )
    # Automatic, like augment: on a small set G oscillates around its few images, and the average of its last few
    # hundred steps is steadier than the last step (25 cookie photos, with the shifts: 0.85 to 0.95 image AUROC, the
    # label-free proxy preferring it on every seed); on thousands of digits the proxy preferred the last G (docs)
    generator_average: float | None = param(
        None,
        "decay of a moving average of G's weights (its start corrected, as Adam's moments), updated every GAN step, "
        f"that becomes the fitted G (0: off, the last G; None: {SMALL_SET_AVERAGE} when fewer than {SMALL_SET_BELOW} "
        "images train, else off)",
    )

    command: ClassVar[str] = "anogan"
    scoring_fields: ClassVar[frozenset[str]] = Detector.scoring_fields | {
        "search_steps", "search_lr", "search_patience", "search_min_delta", "disc_weight", "refine_steps"
    }  # fmt: skip

    @property
    def network_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("generator", "discriminator") + (("encoder",) if self.mapping == "encoder" else ())

    @property
    def scoring_cost(self) -> str:
        if self.mapping == "search":
            return (
                f"a latent search of {self.search_steps} optimizer steps per image (AnoGAN): about "
                f"{2 * self.search_steps} network passes per image, far slower than a one-pass detector"
            )
        if self.refine_steps:
            return (
                f"one encoder pass, then {self.refine_steps} latent-search steps per image (AnoGAN's refine_steps): "
                f"about {2 * self.refine_steps + 1} network passes per image"
            )
        return super().scoring_cost

    def _check_params(self) -> None:
        super()._check_params()
        dcgan_layout(self.net_size, "patch_size" if self.patch_size else "image_size")
        patience = self.search_patience
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 0:
            raise ValueError(f"search_patience: expected an integer >= 0, got {self.search_patience!r}")
        if not 0 <= self.search_min_delta < 1:
            raise ValueError(f"search_min_delta: expected a number in [0, 1), got {self.search_min_delta!r}")
        for name in ("latent_dim", "width", "search_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not self.search_lr > 0:
            raise ValueError(f"search_lr: expected a positive number, got {self.search_lr!r}")
        if not 0 <= self.disc_weight <= 1:
            raise ValueError(f"disc_weight: expected lambda in [0, 1], got {self.disc_weight!r}")
        if self.mapping not in MAPPINGS:
            raise ValueError(f"mapping: expected one of {MAPPINGS}, got {self.mapping!r}")
        if self.gan not in GANS:
            raise ValueError(f"gan: expected one of {GANS}, got {self.gan!r}")
        if not isinstance(self.critic_steps, int) or isinstance(self.critic_steps, bool) or self.critic_steps < 1:
            raise ValueError(f"critic_steps: expected a positive integer, got {self.critic_steps!r}")
        if not self.gp_weight >= 0:
            raise ValueError(f"gp_weight: expected a number >= 0, got {self.gp_weight!r}")
        if not isinstance(self.encoder_steps, int) or self.encoder_steps < 0:
            raise ValueError(f"encoder_steps: expected an integer >= 0, got {self.encoder_steps!r}")
        if self.mapping == "encoder" and 0 < self.encoder_steps < self.rounds:
            raise ValueError(f"encoder_steps: must not be below rounds ({self.rounds}), got {self.encoder_steps}")
        if not self.feature_weight >= 0:
            raise ValueError(f"feature_weight: expected kappa >= 0, got {self.feature_weight!r}")
        if not isinstance(self.refine_steps, int) or isinstance(self.refine_steps, bool) or self.refine_steps < 0:
            raise ValueError(f"refine_steps: expected an integer >= 0, got {self.refine_steps!r}")
        if self.refine_steps and self.mapping != "encoder":
            raise ValueError(
                "refine_steps: refines the encoder's z, and mapping='search' searches from a random z for "
                "search_steps; expected refine_steps=0 or mapping='encoder'"
            )
        decay = self.generator_average
        if decay is not None and not (isinstance(decay, (int, float)) and 0 <= decay < 1):
            raise ValueError(f"generator_average: expected a decay in [0, 1) or None, got {decay!r}")

    def _build_networks(self) -> dict[str, nn.Module]:
        nets = {
            "generator": Generator(self.latent_dim, self.net_size, self.channels, self.width),
            "discriminator": Discriminator(
                self.net_size, self.channels, self.width, norm="layer" if self.gan == "wgan-gp" else "batch"
            ),
        }
        if self.mapping == "encoder":
            nets["encoder"] = Encoder(self.latent_dim, self.net_size, self.channels, self.width)
        return nets

    # --- training: the GAN, then (mapping="encoder") f-AnoGAN's encoder ------------------------------------------
    def _train(self, data, progress: bool) -> None:
        fabric = make_fabric(self)
        nets = self._build_networks()
        gen, disc = nets["generator"], nets["discriminator"]
        # WGAN-GP's Adam: no momentum on the critic's moving target (Gulrajani et al.); DCGAN's: beta1 = 0.5
        betas = (0.0, 0.9) if self.gan == "wgan-gp" else (0.5, 0.999)
        opts = {name: torch.optim.Adam(net.parameters(), lr=self.lr, betas=betas) for name, net in nets.items()}
        train_gen, opt_gen = fabric.setup(gen, opts["generator"])
        train_disc, opt_disc = fabric.setup(disc, opts["discriminator"])
        # a copy of G whose weights trail G's: it, not G, becomes the fitted generator; the training checkpoint
        # carries it with the other networks
        decay = self.average_decay(len(data))
        average = copy.deepcopy(gen).requires_grad_(False) if decay else None
        if average is not None:
            nets["generator_average"] = average
        # a generator step takes one batch (DCGAN) or one per critic step (WGAN-GP)
        per_step = self.critic_steps if self.gan == "wgan-gp" else 1
        batches_per_round = per_step * -(-self.steps // self.rounds)
        loader, shuffle_rng = shuffled_loader(
            fabric, data, self.batch_size, self.seed, batches_per_round, self.augments(len(data)), self.augment_flips
        )
        self.history_ = {"loss_disc": [], "loss_gen": []}
        best = BestRound()
        ckpt = self._round_checkpoint(nets, opts, shuffle_rng, data, fabric, best)
        start = ckpt.restore(self.history_)
        gan_step = self._wgan_gp_step if self.gan == "wgan-gp" else self._dcgan_step

        lengths = round_lengths(self.steps, self.rounds)
        done = sum(lengths[:start])
        bar = tqdm(total=self.steps, desc=f"AnoGAN: {self.gan}", unit="step", disable=not progress, initial=done)
        step = done  # generator steps taken, resumed ones included: the average's weights depend on the count
        for index in range(start, self.rounds):
            sums = torch.zeros(2, device=fabric.device)
            batches = take(loader, per_step * lengths[index])
            for reals in zip(*[batches] * per_step, strict=True):  # per_step consecutive batches per generator step
                losses = gan_step(fabric, train_gen, train_disc, opt_gen, opt_disc, [x * 2 - 1 for x in reals])
                step += 1
                if average is not None:
                    self._follow(average, gen, step, decay)
                sums += torch.stack(losses)
                bar.update()
            ckpt.record(index, self.history_, sums / lengths[index], ("loss_disc", "loss_gen"))
        bar.close()
        if average is not None:
            if start <= self.rounds:  # else a resumed encoder round's checkpoint holds them already
                self._average_statistics(average, fabric.device)
            gen = average
        self.generator_, self.discriminator_ = gen, disc
        if self.mapping == "encoder":
            encoder_start = max(start, self.rounds)
            self._train_encoder(fabric, nets["encoder"], opts["encoder"], loader, ckpt, encoder_start, progress)

    def _dcgan_step(self, fabric, gen, disc, opt_gen, opt_disc, reals) -> tuple[torch.Tensor, torch.Tensor]:
        """One DCGAN step on one batch of real images (B, C, S, S) in [-1, 1]; returns the two losses."""
        (real,) = reals
        z = torch.randn(len(real), self.latent_dim, device=fabric.device)  # (B, latent_dim)
        fake = gen(z)

        # (1) D: maximise log D(x) + log(1 - D(G(z))); detach: D's step must not update G
        logit_real, logit_fake = disc(real), disc(fake.detach())
        loss_disc = F.binary_cross_entropy_with_logits(
            logit_real, torch.ones_like(logit_real)
        ) + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))
        opt_disc.zero_grad(set_to_none=True)
        fabric.backward(loss_disc)
        opt_disc.step()

        # (2) G: maximise log D(G(z)), the non-saturating loss, through the updated D
        logit_fake = disc(fake)
        loss_gen = F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))
        opt_gen.zero_grad(set_to_none=True)
        fabric.backward(loss_gen)
        opt_gen.step()
        return loss_disc.detach(), loss_gen.detach()

    def _wgan_gp_step(self, fabric, gen, critic, opt_gen, opt_critic, reals) -> tuple[torch.Tensor, torch.Tensor]:
        """One WGAN-GP generator step (Gulrajani et al., NeurIPS 2017, as f-AnoGAN trains its GAN): a critic step
        on each of the critic_steps batches, then one generator step; returns the last critic loss and G's."""
        for real in reals:
            z = torch.randn(len(real), self.latent_dim, device=fabric.device)
            with torch.no_grad():
                fake = gen(z)
            # the penalty's points: each on the line between a real image and a generated one
            mix = torch.rand(len(real), 1, 1, 1, device=fabric.device)
            between = (mix * real + (1 - mix) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
            penalty = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()

            # (1) critic: maximise D(x) - D(G(z)), the Wasserstein estimate, with gradients of norm 1 in between
            loss_critic = critic(fake).mean() - critic(real).mean() + self.gp_weight * penalty
            opt_critic.zero_grad(set_to_none=True)
            fabric.backward(loss_critic)
            opt_critic.step()

        # (2) G: maximise D(G(z)), the critic's value of its images
        loss_gen = -critic(gen(torch.randn(len(reals[-1]), self.latent_dim, device=fabric.device))).mean()
        opt_gen.zero_grad(set_to_none=True)
        fabric.backward(loss_gen)
        opt_gen.step()
        return loss_critic.detach(), loss_gen.detach()

    def average_decay(self, images: int) -> float:
        """The decay of G's moving average for a training set of `images` images: `generator_average`, or with
        None SMALL_SET_AVERAGE on a small set (fewer than SMALL_SET_BELOW) and 0, the last G, on a larger one."""
        if self.generator_average is not None:
            return self.generator_average
        return SMALL_SET_AVERAGE if self.small_set(images) else 0.0

    @torch.no_grad()
    def _follow(self, average: nn.Module, gen: nn.Module, step: int, decay: float) -> None:
        """Step `step` (from 1) of the moving average (Yazici et al., "The Unusual Effectiveness of Averaging in GAN
        Training", ICLR 2019), corrected for its start as Adam corrects its moments: each weight moves a
        (1 - decay) / (1 - decay^step) share of the way to G's, so the average weighs G's steps by decay^age alone
        and keeps nothing of the random initial weights (uncorrected, it kept decay^step of them: 31% after 235 steps
        at 0.995)."""
        for mean, weight in zip(average.parameters(), gen.parameters(), strict=True):
            mean.lerp_(weight, (1 - decay) / (1 - decay**step))

    @torch.no_grad()
    def _average_statistics(self, average: nn.Module, device) -> None:
        """BatchNorm statistics for the averaged weights: G's running statistics belong to G's own weights, so they
        are measured afresh, a plain mean over AVERAGE_BATCHES batches of the average's own images."""
        norms = [m for m in average.modules() if isinstance(m, nn.BatchNorm2d)]
        momenta = [norm.momentum for norm in norms]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # None: a cumulative mean, every batch weighted alike
        average.train()
        for _ in range(AVERAGE_BATCHES):
            average(torch.randn(self.batch_size, self.latent_dim, device=device))
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        average.eval()

    def _train_encoder(self, fabric, enc: nn.Module, opt_enc, loader, ckpt, start: int, progress: bool) -> None:
        """f-AnoGAN's izi_f: G and D frozen (eval: BatchNorm keeps the GAN's statistics), only E learns. Its rounds
        continue the GAN's count in the training checkpoint; after each, the validation proxy is measured, and the
        encoder of the best round is kept."""
        for net in (self.generator_, self.discriminator_):
            net.eval().requires_grad_(False)
        train_enc, opt_enc = fabric.setup(enc, opt_enc)
        self.history_.setdefault("loss_encoder", [])
        lengths = round_lengths(self.encoder_steps or self.steps, self.rounds)
        done = sum(lengths[: start - self.rounds])
        bar = tqdm(total=sum(lengths), desc="AnoGAN: encoder", unit="step", disable=not progress, initial=done)
        for index in range(start, 2 * self.rounds):
            total = torch.zeros((), device=fabric.device)
            for x in take(loader, lengths[index - self.rounds]):
                real = x * 2 - 1
                # E: minimise izi_f, the residual and feature distance between x and G(E(x))
                loss_enc = self._izi_f(real, train_enc(real))[0].mean()
                opt_enc.zero_grad(set_to_none=True)
                fabric.backward(loss_enc)
                opt_enc.step()
                total += loss_enc.detach()
                bar.update()
            validate = partial(self._validate_round, index, {"encoder": enc}, ckpt.best)
            ckpt.record(index, self.history_, total / lengths[index - self.rounds], ("loss_encoder",), validate)
        bar.close()
        ckpt.best.restore({"encoder": enc})
        self.encoder_ = enc.eval()
        if ckpt.best.round >= 0:
            self.history_["kept_round"] = [float(ckpt.best.round - self.rounds + 1)]

    def _izi_f(self, real: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per image (B,): mean squared residual + kappa * mean squared feature difference; and G(z)."""
        fake = self.generator_(z)
        residual = (real - fake).pow(2).flatten(1).mean(1)
        features = (self.discriminator_.features(real) - self.discriminator_.features(fake)).pow(2).mean(1)
        return residual + self.feature_weight * features, fake

    # --- scoring: the latent search ---------------------------------------------------------------------------
    def initial_latents(self, x: torch.Tensor) -> torch.Tensor:
        """z_1 per image (B, latent_dim) ~ N(0, 1), seeded by `seed` and the image's own pixels."""
        pixels = x.detach().float().cpu().numpy()
        zs = [
            torch.randn(self.latent_dim, generator=torch.Generator().manual_seed(self.seed * 2**32 + zlib.crc32(p)))
            for p in pixels
        ]
        return torch.stack(zs).to(x.device)

    def _losses(self, real, feat_real, z) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per image: residual R (B,), discrimination D (B,), and the generated image."""
        fake = self.generator_(z)
        residual = (real - fake).abs().flatten(1).sum(1)
        discrimination = (feat_real - self.discriminator_.features(fake)).abs().sum(1)
        return residual, discrimination, fake

    def search(self, x: torch.Tensor, start: torch.Tensor | None = None, steps: int | None = None) -> torch.Tensor:
        """Map images x (B, C, S, S) in [0, 1] to their latent vectors (B, latent_dim): Gamma Adam steps on each
        image's z (or `steps`), from `initial_latents` (or `start`), or fewer steps for an image whose loss has
        stopped improving when `search_patience` is set.

        Adam is written out rather than taken from torch.optim so that images which stop early leave the batch
        and cost nothing more; the update is torch's Adam (default betas and eps), element by element."""
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        lam, patience = self.disc_weight, self.search_patience
        found = torch.empty(len(x), self.latent_dim, device=x.device)
        # the images still searching, and their state; rows are dropped together when images stop
        index = torch.arange(len(x), device=x.device)
        real = x * 2 - 1
        z = self.initial_latents(x) if start is None else start.clone()  # the steps below work in place
        avg, avg_sq = torch.zeros_like(z), torch.zeros_like(z)
        best = torch.full((len(x),), float("inf"), device=x.device)
        stale = torch.zeros(len(x), dtype=torch.long, device=x.device)
        # enable_grad: the search needs autograd even when the caller is in no_grad; its backward passes on CUDA
        # need deterministic kernels for a score to repeat
        with torch.enable_grad(), reproducible(x.device):
            feat_real = self.discriminator_.features(real).detach()
            for step in range(1, (steps or self.search_steps) + 1):
                z.requires_grad_(True)
                residual, discrimination, _ = self._losses(real, feat_real, z)
                loss = (1 - lam) * residual + lam * discrimination  # (A,) per image
                # the summed loss gives each z exactly its own image's gradient
                loss.sum().backward()
                grad, loss = z.grad, loss.detach()
                with torch.no_grad():
                    avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                    avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    denom = (avg_sq.sqrt() / (1 - beta2**step) ** 0.5).add_(eps)
                    z = z.detach().addcdiv_(avg, denom, value=-self.search_lr / (1 - beta1**step))
                if not patience:
                    continue
                improved = loss < best * (1 - self.search_min_delta)
                best = torch.where(improved, loss, best)
                stale = torch.where(improved, 0, stale + 1)
                done = stale >= patience
                if done.any():
                    found[index[done]] = z[done]
                    keep = ~done
                    index, real, feat_real, z = index[keep], real[keep], feat_real[keep], z[keep]
                    avg, avg_sq, best, stale = avg[keep], avg_sq[keep], best[keep], stale[keep]
                    if not len(index):
                        break
        found[index] = z
        return found

    @torch.no_grad()
    def _score_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        real = x * 2 - 1
        if self.mapping == "encoder":
            z = self.encoder_(real)
            if self.refine_steps:
                z = self.search(x, start=z, steps=self.refine_steps)
            scores, fake = self._izi_f(real, z)
            return scores, (real - fake).abs().mean(1) / 2
        z = self.search(x)
        residual, discrimination, fake = self._losses(real, self.discriminator_.features(real), z)
        scores = (1 - self.disc_weight) * residual + self.disc_weight * discrimination  # A(x)
        maps = (real - fake).abs().mean(1) / 2  # (B, S, S), back in [0, 1] pixel units
        return scores, maps
