import pytest
import torch

from ganspect.nets import Discriminator, Encoder, Generator, dcgan_layout


@pytest.mark.parametrize(("size", "layout"), [(16, (4, 2)), (28, (7, 2)), (32, (4, 3)), (64, (4, 4)), (128, (4, 5))])
def test_layout_covers_mnist_and_powers_of_two(size, layout):
    assert dcgan_layout(size) == layout


@pytest.mark.parametrize("size", [8, 30, 48, 100])
def test_layout_rejects_other_sizes(size):
    with pytest.raises(ValueError, match="image_size"):
        dcgan_layout(size)


@pytest.mark.parametrize(("size", "channels"), [(28, 1), (32, 3), (64, 1)])
def test_networks_shapes(size, channels):
    gen, disc = Generator(100, size, channels, width=8), Discriminator(size, channels, width=8)
    enc = Encoder(100, size, channels, width=8)
    z = torch.randn(3, 100)
    image = gen(z)
    assert image.shape == (3, channels, size, size)
    assert image.abs().max() <= 1  # tanh: the [-1, 1] range the detectors assume
    logits, features = disc.logits_and_features(image)
    assert logits.shape == (3,)
    assert torch.equal(features, disc.features(image))
    assert torch.equal(logits, disc(image))
    assert enc(image).shape == (3, 100)


def test_layer_norm_critic_judges_each_image_on_its_own():
    """WGAN-GP's penalty is a per-image gradient: the critic's value of an image must not depend on its batch
    mates in training mode, which BatchNorm's would."""
    torch.manual_seed(0)
    x = torch.randn(5, 1, 32, 32)
    critic = Discriminator(32, 1, width=8, norm="layer").train()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in critic.modules())
    alone = torch.cat([critic(x[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(critic(x), alone)
    batch_norm = Discriminator(32, 1, width=8).train()
    assert not torch.allclose(batch_norm(x), torch.cat([batch_norm(x[i : i + 2])[:1] for i in range(len(x))]))
