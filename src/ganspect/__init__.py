"""ganspect: GAN-based visual anomaly detection (AnoGAN, f-AnoGAN's encoder, OGNet, RepairGAN), with
per-pixel heat maps; several fits of one method averaged as an Ensemble."""

from .anogan import AnoGAN
from .baselines import LocalStatistics, PCAReconstruction, PixelGaussian
from .detector import Detector, NotFittedError, load
from .ensemble import Ensemble
from .ognet import OGNet
from .repairgan import RepairGAN

__version__ = "0.1.0"
__all__ = [
    "AnoGAN",
    "Detector",
    "Ensemble",
    "NotFittedError",
    "load",
    "OGNet",
    "LocalStatistics",
    "PCAReconstruction",
    "PixelGaussian",
    "RepairGAN",
    "__version__",
]
