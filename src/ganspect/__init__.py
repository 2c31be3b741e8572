"""ganspect: GAN-based visual anomaly detection (AnoGAN, f-AnoGAN's encoder, OGNet) with per-pixel heat maps."""

from .anogan import AnoGAN
from .baselines import PCAReconstruction, PixelGaussian
from .detector import Detector, NotFittedError, load
from .ognet import OGNet

__version__ = "0.1.0"
__all__ = ["AnoGAN", "Detector", "NotFittedError", "load", "OGNet", "PCAReconstruction", "PixelGaussian", "__version__"]
