"""OGNet: Zaheer, Lee, Astrid and Lee, "Old is Gold: Redefining the Adversarially Learned One-Class Classifier
Training Paradigm", CVPR 2020.

Phase one trains a reconstructing generator G (an autoencoder fed noisy images) against a discriminator D. A copy
of G from an early epoch is kept as the "old" generator G_old: its reconstructions are plausible but poor.
Phase two freezes G and G_old and trains only D, briefly, to tell good reconstructions (real images x and G(x))
from bad ones (G_old(x), and pseudo-anomalies G((G_old(x_i) + G_old(x_j)) / 2) made from two different normal
images). D then judges reconstruction quality, and D(G(x)) is the anomaly score.

Ours, not the paper's:
- D keeps phase one's convention throughout (logit of "real / good"); phase two labels good 1 and bad 0, and the
  score is minus the logit of D(G(x)). The paper labels bad 1 and scores D(G(x)): the same ranking, but D does
  not have to unlearn its phase-one labels within phase two's few steps.
- G's step recomputes D(G(x)) after D's step (the DCGAN order); the official code reuses outputs from before D's
  step, which gives G gradients from stale weights.
- Phase one's length, the old epoch and phase two's steps are fields fixed in advance, never chosen on test labels.
- The anomaly map |x - G(x)| is ours: the paper scores images only.
- architecture="lean" (default): DCGAN strided convolutions, which train in minutes on a CPU.
  architecture="official": the published 5x5 networks (G 8.6 M, D 4.3 M parameters at width 64).
  Measured on the authors' MNIST test set (docs/measurements.md): lean 0.962 AUROC, 12.5 s to fit on 500 zeros,
  0.4 ms per scored image; official 0.948, 71 min to fit (2 epochs; phase two 56 min) and 205 ms per image, one
  CPU thread.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .detector import Detector, param
from .nets import Autoencoder, Discriminator, OfficialAutoencoder, OfficialDiscriminator, dcgan_layout
from .train import make_fabric, round_lengths, shuffled_loader, take
from .validation import BestRound

ARCHITECTURES = ("lean", "official")


@dataclass(kw_only=True, eq=False)
class OGNet(Detector):
    """OGNet (CVPR 2020): an old generator teaches the discriminator to judge reconstructions; D is the scorer."""

    image_size: int = param(64, "side of the square images the networks see (the paper: 45, official networks)")
    map_sigma: float = param(2.0, "std in pixels (at image_size) of the Gaussian that smooths the maps; 0: none")
    image_score: str = param(
        "auto",
        "'model': minus D's logit; 'map': off the smoothed map; 'reference': off the map standardised by normal maps; "
        "'auto': validation picks",
    )
    lr: float = param(1e-3, "G's Adam learning rate in phase one (the official code's 1e-3)")
    architecture: str = param("lean", "'lean' (DCGAN strided convolutions) or 'official' (the published networks)")
    width: int = param(32, "channels of the first convolution (the official networks: 64)")
    disc_lr: float = param(1e-4, "D's Adam learning rate in phase one (the official code's 1e-4)")
    adversarial_weight: float = param(0.5, "a: G's loss is (1 - a) MSE(G(x~), x) + a BCE(D(G(x~)), real)")
    noise_std: float = param(0.1, "std of the Gaussian noise added to G's input in phase one, in [-1, 1] units")
    old_round: int = param(
        0, "the round after which G is frozen as G_old (0: picked on validation among the first half of the rounds)"
    )
    phase_two_steps: int = param(75, "D's steps in phase two (the official code's 75)")
    phase_two_lr: float = param(5e-5, "D's Adam learning rate in phase two (the official code's 5e-5)")
    real_weight: float = param(0.1, "phase two: weight of real images x on the good side (the paper's 0.1)")
    recon_weight: float = param(0.9, "phase two: weight of G(x) on the good side (the paper's 0.9)")
    old_weight: float = param(0.5, "phase two: weight of G_old(x) on the bad side")
    pseudo_weight: float = param(0.5, "phase two: weight of the pseudo-anomalies on the bad side")

    network_names: ClassVar[tuple[str, ...]] = ("generator", "old_generator", "discriminator")
    command: ClassVar[str] = "ognet"

    def _check_params(self) -> None:
        super()._check_params()
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture: expected one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.architecture == "lean":
            dcgan_layout(self.net_size, "patch_size" if self.patch_size else "image_size")
        elif self.net_size < 17:
            name = "patch_size" if self.patch_size else "image_size"
            raise ValueError(f"{name}: the official networks need 17 pixels or more, got {self.net_size}")
        if not isinstance(self.width, int) or self.width < 1:
            raise ValueError(f"width: expected a positive integer, got {self.width!r}")
        if not isinstance(self.old_round, int) or not 0 <= self.old_round <= self.rounds:
            raise ValueError(f"old_round: expected 0 (picked on validation) to {self.rounds}, got {self.old_round!r}")
        if not isinstance(self.phase_two_steps, int) or self.phase_two_steps < 0:
            raise ValueError(f"phase_two_steps: expected an integer >= 0, got {self.phase_two_steps!r}")
        if not 0 <= self.adversarial_weight <= 1:
            raise ValueError(f"adversarial_weight: expected a in [0, 1], got {self.adversarial_weight!r}")
        for name in ("disc_lr", "phase_two_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: expected a positive number, got {getattr(self, name)!r}")
        for name in ("noise_std", "real_weight", "recon_weight", "old_weight", "pseudo_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: expected a number >= 0, got {getattr(self, name)!r}")

    def _build_networks(self) -> dict[str, nn.Module]:
        if self.architecture == "official":
            gen, old = OfficialAutoencoder(self.channels, self.width), OfficialAutoencoder(self.channels, self.width)
            disc: nn.Module = OfficialDiscriminator(self.net_size, self.channels, self.width)
        else:
            gen = Autoencoder(self.net_size, self.channels, self.width)
            old = Autoencoder(self.net_size, self.channels, self.width)
            disc = Discriminator(self.net_size, self.channels, self.width)
        return {"generator": gen, "old_generator": old, "discriminator": disc}

    def _train(self, data, progress: bool) -> None:
        fabric = make_fabric(self)
        nets = self._build_networks()
        gen, old_gen, disc = nets["generator"], nets["old_generator"], nets["discriminator"]
        # G after each of the rounds that may give G_old (one round when it is fixed), checkpointed with the rest
        old_rounds = self._old_rounds()
        candidates = nn.ModuleList(copy.deepcopy(gen) for _ in old_rounds)
        opts = {
            "generator": torch.optim.Adam(gen.parameters(), lr=self.lr, betas=(0.5, 0.999)),
            "discriminator": torch.optim.Adam(disc.parameters(), lr=self.disc_lr, betas=(0.5, 0.999)),
        }
        train_gen, opt_gen = fabric.setup(gen, opts["generator"])
        train_disc, opt_disc = fabric.setup(disc, opts["discriminator"])
        per_round = -(-self.steps // self.rounds)
        loader, shuffle_rng = shuffled_loader(
            fabric, data, self.batch_size, self.seed, per_round, self.augments(len(data)), self.augment_flips
        )
        self.history_ = {"loss_disc": [], "loss_gen": [], "loss_phase_two": []}
        # phase two is short and restarts whole after a kill: the checkpoint covers phase one's rounds
        modules = {**nets, "old_candidates": candidates}
        ckpt = self._round_checkpoint(modules, opts, shuffle_rng, data, fabric)
        start = ckpt.restore(self.history_)
        a = self.adversarial_weight

        # Phase one: G reconstructs noisy normal images, D tells real from reconstructed
        lengths = round_lengths(self.steps, self.rounds)
        done = sum(lengths[:start])
        bar = tqdm(total=self.steps, desc="OGNet: phase one", unit="step", disable=not progress, initial=done)
        for index in range(start, self.rounds):
            sums = torch.zeros(2, device=fabric.device)
            for x in take(loader, lengths[index]):
                real = x * 2 - 1  # (B, C, S, S) in [-1, 1]
                noisy = real + self.noise_std * torch.randn_like(real)
                recon = train_gen(noisy)

                # (1) D: maximise log D(x) + log(1 - D(G(x~))); detach: D's step must not update G
                logit_real, logit_fake = train_disc(real), train_disc(recon.detach())
                loss_disc = 0.5 * (
                    F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
                    + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))
                )
                opt_disc.zero_grad(set_to_none=True)
                fabric.backward(loss_disc)
                opt_disc.step()

                # (2) G: (1 - a) MSE(G(x~), x) + a BCE(D(G(x~)), real), with D(G(x~)) recomputed after D's step
                logit_fake = train_disc(recon)
                adversarial = F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))
                loss_gen = (1 - a) * F.mse_loss(recon, real) + a * adversarial
                opt_gen.zero_grad(set_to_none=True)
                fabric.backward(loss_gen)
                opt_gen.step()
                sums += torch.stack([loss_disc.detach(), loss_gen.detach()])
                bar.update()
            if index + 1 in old_rounds:  # before the round is recorded, so a resumed run has it too
                candidates[old_rounds.index(index + 1)].load_state_dict(gen.state_dict())
            ckpt.record(index, self.history_, sums / lengths[index], ("loss_disc", "loss_gen"))
        bar.close()
        self._phase_two(fabric, train_disc, gen, old_gen, disc, candidates, loader, ckpt, progress)
        self.generator_, self.old_generator_, self.discriminator_ = gen, old_gen, disc

    def _old_rounds(self) -> list[int]:
        """The rounds after which G may become G_old: the one fixed by `old_round`; with validation, every round
        of the first half (the paper's old generator is an early, low-epoch one); without it, round 1."""
        if self.old_round:
            return [self.old_round]
        if self.validation_split > 0:
            return list(range(1, max(1, self.rounds // 2) + 1))
        return [1]

    def _phase_two(self, fabric, train_disc, gen, old_gen, disc, candidates, loader, ckpt, progress: bool) -> None:
        """Phase two, once per candidate G_old, each from phase one's D; after each of its rounds the validation
        proxy is measured, and the (G_old, D) pair of the best round is kept. G and G_old are frozen (eval, no
        grad); only D learns."""
        gen.eval().requires_grad_(False)
        old_gen.to(fabric.device).eval().requires_grad_(False)
        phase_one_disc = copy.deepcopy(disc.state_dict())
        best, old_rounds = BestRound(), self._old_rounds()
        lengths = round_lengths(self.phase_two_steps, self.rounds) if self.phase_two_steps else []
        total = len(candidates) * self.phase_two_steps
        bar = tqdm(total=total, desc="OGNet: phase two", unit="step", disable=not progress)
        for c, candidate in enumerate(candidates):
            old_gen.load_state_dict(candidate.state_dict())
            disc.load_state_dict(phase_one_disc)
            opt_two = fabric.setup_optimizers(
                torch.optim.Adam(disc.parameters(), lr=self.phase_two_lr, betas=(0.5, 0.999))
            )
            for index, length in enumerate(lengths):
                for x in take(loader, length):
                    # D: good (x, G(x)) scores 1, bad (G_old(x), pseudo-anomalies) scores 0
                    loss = self._phase_two_loss(train_disc, gen, old_gen, x * 2 - 1)
                    opt_two.zero_grad(set_to_none=True)
                    fabric.backward(loss)
                    opt_two.step()
                    ckpt.check_finite(self.rounds, loss_phase_two=loss.item())
                    self.history_["loss_phase_two"].append(loss.item())
                    bar.update()
                networks = {"generator": gen, "old_generator": old_gen, "discriminator": disc}
                # rounds are numbered across candidates, so the kept one names its candidate and its length
                self._validate_round(c * len(lengths) + index, networks, best)
        bar.close()
        if best.round >= 0:
            best.restore({"old_generator": old_gen, "discriminator": disc})
            candidate, index = divmod(best.round, len(lengths))
            kept = (old_rounds[candidate], sum(lengths[: index + 1]))
        else:  # nothing validated: the earliest candidate (one candidate unless phase two has no steps)
            old_gen.load_state_dict(candidates[0].state_dict())
            kept = (old_rounds[0], self.phase_two_steps)
        self.history_["kept_old_round"], self.history_["kept_phase_two_steps"] = [float(kept[0])], [float(kept[1])]
        old_gen.eval()
        disc.eval()

    def _phase_two_loss(self, disc, gen, old_gen, real: torch.Tensor) -> torch.Tensor:
        """Weighted BCE: good (label 1) = x and G(x); bad (label 0) = G_old(x) and pseudo-anomalies."""
        with torch.no_grad():
            recon = gen(real)
            old_recon = old_gen(real)
            # pseudo-anomalies: the pixel average of G_old's reconstructions of two different images, through G;
            # rolling the batch by one pairs every image with another
            pseudo = gen((old_recon + old_recon.roll(1, 0)) / 2)
        groups = [
            (real, 1.0, self.real_weight),
            (recon, 1.0, self.recon_weight),
            (old_recon, 0.0, self.old_weight),
            (pseudo, 0.0, self.pseudo_weight),
        ]
        if len(real) < 2:  # a lone image has no partner to mix with
            groups.pop()
        loss = real.new_zeros(())
        for images, label, weight in groups:
            logit = disc(images)
            loss = loss + weight * F.binary_cross_entropy_with_logits(logit, torch.full_like(logit, label))
        return loss

    @torch.no_grad()
    def _score_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        real = x * 2 - 1
        recon = self.generator_(real)
        scores = -self.discriminator_(recon)  # minus the logit of "good reconstruction": higher = more anomalous
        maps = (real - recon).abs().mean(1) / 2  # (B, S, S), in [0, 1] pixel units
        return scores, maps
