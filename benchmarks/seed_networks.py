"""The AnoGAN networks of the seed write-up most readers of the paper run (../shared/seeds/000_*): 28x28 grey
images, a generator from z (100) through a 7x7x512 linear layer and four 3x3 transposed convolutions, and a small
discriminator whose flattened last convolution (64 x 7 x 7) is the feature layer. Rebuilt here layer for layer so
that the speed benchmark can time ganspect's search on the networks the published figures come from."""

from __future__ import annotations

import torch
from torch import nn

import ganspect


class SeedGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(latent_dim, 7 * 7 * 512), nn.BatchNorm1d(7 * 7 * 512), nn.ReLU())
        self.convs = nn.Sequential(
            nn.ConvTranspose2d(512, 256, 3, 2, 1, 1), nn.BatchNorm2d(256), nn.LeakyReLU(),  # 14x14
            nn.ConvTranspose2d(256, 128, 3, 1, 1), nn.BatchNorm2d(128), nn.LeakyReLU(),
            nn.ConvTranspose2d(128, 64, 3, 1, 1), nn.BatchNorm2d(64), nn.LeakyReLU(),
            nn.ConvTranspose2d(64, 1, 3, 2, 1, 1), nn.Tanh(),  # 28x28
        )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.convs(self.project(z).view(len(z), 512, 7, 7))


class SeedDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(),
            nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.LeakyReLU(),  # 14x14
            nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.LeakyReLU(),  # 7x7
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.LeakyReLU(),
            nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Linear(64 * 7 * 7, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x)).flatten()


class SeedNetworksAnoGAN(ganspect.AnoGAN):
    """ganspect's AnoGAN (training, batched search, score) on the seed's networks; 28x28 only."""

    def _build_networks(self) -> dict[str, nn.Module]:
        if self.image_size != 28 or self.channels != 1 or self.mapping != "search":
            raise ValueError("the seed's networks take 28x28 grey images and have no encoder")
        return {"generator": SeedGenerator(self.latent_dim), "discriminator": SeedDiscriminator()}
