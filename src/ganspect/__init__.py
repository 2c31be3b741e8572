"""ganspect: GAN-based visual anomaly detection (AnoGAN, f-AnoGAN's encoder, OGNet, RepairGAN), with
per-pixel heat maps; several fits of one method averaged as an Ensemble; `select` keeps, of several detectors,
the one validation rates best."""

from .anogan import AnoGAN
from .baselines import LocalStatistics, PCAReconstruction, PixelGaussian
from .detector import Detector, NotFittedError, load
from .ensemble import Ensemble
from .ognet import OGNet
from .repairgan import RepairGAN
from .selection import Selection, select

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
    "Selection",
    "select",
    "__version__",
]
