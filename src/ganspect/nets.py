"""The networks: DCGAN generator, discriminator (with its feature layer) and encoder.

Radford, Metz and Chintala, "Unsupervised Representation Learning with Deep Convolutional GANs", ICLR 2016,
as used by AnoGAN and f-AnoGAN. Images are square, of size `base * 2**depth` with `base` 4 or 7, so both
the powers of two (32, 64, 128, ...) and MNIST's 28 (7 * 2**2) work. Inside the networks pixels lie in [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn


def dcgan_layout(image_size: int, name: str = "image_size") -> tuple[int, int]:
    """(base, depth) with image_size == base * 2**depth, base in {4, 7} and depth >= 2; `name` is the parameter
    an error blames (patch_size in patch mode, where the networks see patches)."""
    for base in (4, 7):
        depth, size = 0, image_size
        while size > base and size % 2 == 0:
            size //= 2
            depth += 1
        if size == base and depth >= 2:
            return base, depth
    raise ValueError(
        f"{name}: must be 4 or 7 times a power of two, at least 16 (16, 28, 32, 64, 128, ...), got {image_size}"
    )


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN's initialisation: convolutions N(0, 0.02), BatchNorm scales N(1, 0.02), biases zero."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def upsampling_layers(ch: int, depth: int, channels: int) -> list[nn.Module]:
    """DCGAN's transposed convolutions: a (ch, base, base) map -> (channels, base * 2**depth, ...) in [-1, 1]."""
    layers: list[nn.Module] = []
    for _ in range(depth - 1):
        layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
        ch //= 2
    return layers + [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]


class Generator(nn.Module):
    """z (B, latent_dim) -> image (B, channels, S, S) in [-1, 1]; widths halve as the maps double."""

    def __init__(self, latent_dim: int, image_size: int, channels: int, width: int = 64):
        super().__init__()
        base, depth = dcgan_layout(image_size)
        ch = width * 2 ** (depth - 1)
        project = [nn.ConvTranspose2d(latent_dim, ch, base, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        self.net = nn.Sequential(*project, *upsampling_layers(ch, depth, channels))
        self.latent_dim = latent_dim
        init_dcgan_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class ConvTrunk(nn.Module):
    """The DCGAN discriminator's convolutions: image (B, C, S, S) -> feature map (B, F, base, base).

    norm="batch" is DCGAN's BatchNorm; norm="layer" normalises each image over its own channels and pixels
    (GroupNorm with one group) instead of over the batch: WGAN-GP's gradient penalty is taken per image, which
    BatchNorm's mixing of images would break."""

    def __init__(self, image_size: int, channels: int, width: int = 64, norm: str = "batch"):
        super().__init__()
        self.base, depth = dcgan_layout(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(depth - 1):
            normalise = nn.BatchNorm2d(ch * 2) if norm == "batch" else nn.GroupNorm(1, ch * 2)
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), normalise, nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.net = nn.Sequential(*layers)
        self.out_channels = ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Discriminator(nn.Module):
    """image -> logit (B,) (WGAN-GP: the critic's unbounded value); `features` gives f(x), the last convolutional
    layer that AnoGAN's discrimination loss and f-AnoGAN's izi_f loss compare."""

    def __init__(self, image_size: int, channels: int, width: int = 64, norm: str = "batch"):
        super().__init__()
        self.trunk = ConvTrunk(image_size, channels, width, norm)
        self.head = nn.Conv2d(self.trunk.out_channels, 1, self.trunk.base, 1, 0, bias=False)
        init_dcgan_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x).flatten(1)  # (B, F * base * base)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x)).flatten()  # (B,) logits

    def logits_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.trunk(x)
        return self.head(feat).flatten(), feat.flatten(1)


class Encoder(nn.Module):
    """image -> z: the discriminator's trunk with a latent head (f-AnoGAN's E)."""

    def __init__(self, latent_dim: int, image_size: int, channels: int, width: int = 64):
        super().__init__()
        self.trunk = ConvTrunk(image_size, channels, width)
        self.head = nn.Conv2d(self.trunk.out_channels, latent_dim, self.trunk.base, 1, 0)
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x)).flatten(1)  # (B, latent_dim)


class Autoencoder(nn.Module):
    """OGNet's lean generator: DCGAN's strided convolutions down to a base x base map, no latent vector,
    and DCGAN's transposed convolutions back up. image (B, C, S, S) -> image, in [-1, 1]."""

    def __init__(self, image_size: int, channels: int, width: int = 32):
        super().__init__()
        trunk = ConvTrunk(image_size, channels, width)
        _, depth = dcgan_layout(image_size)
        self.net = nn.Sequential(trunk, *upsampling_layers(trunk.out_channels, depth, channels))
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class OfficialAutoencoder(nn.Module):
    """OGNet's published generator: four 5x5 stride-1 convolutions (1 -> 64 -> 128 -> 256 -> 512 channels at
    width 64; 45 -> 29 pixels) and the mirrored transposed convolutions. Any image size of 17 or more."""

    def __init__(self, channels: int, width: int = 64):
        super().__init__()
        widths = [channels] + [width * 2**i for i in range(4)]
        down: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            down += [nn.Conv2d(c_in, c_out, 5, 1, 0, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2, True)]
        up: list[nn.Module] = []
        for c_in, c_out in zip(widths[:1:-1], widths[-2:0:-1], strict=True):
            up += [nn.ConvTranspose2d(c_in, c_out, 5, 1, 0, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        up += [nn.ConvTranspose2d(widths[1], channels, 5, 1, 0, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*down, *up)
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class OfficialDiscriminator(nn.Module):
    """OGNet's published discriminator: four 5x5 stride-2 convolutions, then a linear layer to one logit."""

    def __init__(self, image_size: int, channels: int, width: int = 64):
        super().__init__()
        layers: list[nn.Module] = []
        c_in, size = channels, image_size
        for i in range(4):
            c_out = width * 2**i
            layers += [nn.Conv2d(c_in, c_out, 5, 2, 2, bias=False)]
            layers += [nn.BatchNorm2d(c_out)] if i else []
            layers += [nn.LeakyReLU(0.2, True)]
            c_in, size = c_out, (size + 1) // 2
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(c_in * size * size, 1)
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x)).flatten()  # (B,) logits
