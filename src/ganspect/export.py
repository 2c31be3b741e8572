"""ONNX export of the one-pass scorers (AnoGAN with the encoder, OGNet, RepairGAN, the Gaussian and PCA baselines,
and ensembles of them on whole images), for deployment without PyTorch.

The graph takes float images in [0, 1] shaped (N, C, S, S), S being the networks' size (`det.net_size`), and
returns `score` (N,) and `anomaly_map` (N, S, S), exactly what the detector computes for those inputs. In patch
mode the graph scores patches: cut them with `ganspect.data.cut_patches` and put the results back together with
`ganspect.data.stitch_patches` (both plain tensor code; `score_with_onnx` below shows the whole path).
The latent search is iterative (Gamma optimizer steps per image) and is not exported, nor is the encoder's refinement
by it (`refine_steps`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .baselines import LocalStatistics
from .checkpoint import atomic_output
from .data import as_dataset, batches, cut_patches, stitch_patches
from .detector import Detector
from .ensemble import Ensemble


class OnePassScorer(nn.Module):
    """The detector's own scoring code, as a module the exporter can trace."""

    def __init__(self, det: Detector):
        super().__init__()
        self.networks = nn.ModuleDict({name: getattr(det, name + "_") for name in det.network_names})
        self.det = det

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores, maps = self.det._score_batch(images)
        if self.det.patch_size:  # patch results: smoothing and the score rule come after stitching, outside
            return scores, maps
        return self.det._finish(scores, maps, self.det.score_rule_)


class EnsembleScorer(nn.Module):
    """The members' one-pass scorers side by side in one graph, their finished scores and maps averaged."""

    def __init__(self, ensemble: Ensemble):
        super().__init__()
        self.members = nn.ModuleList(OnePassScorer(member) for member in ensemble.members)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        results = [member(images) for member in self.members]
        return torch.stack([s for s, _ in results]).mean(0), torch.stack([m for _, m in results]).mean(0)


def check_exportable(det: Detector | Ensemble) -> None:
    if isinstance(det, Ensemble):
        if det.patch_size:
            raise ValueError(
                "an ensemble of patch-mode models: each member stitches its patches and finishes its map before the "
                "average, which one patch graph cannot hold; export the members one by one"
            )
        for member in det.members:
            check_exportable(member)
        return
    det._check_usable()
    if isinstance(det, LocalStatistics):
        raise ValueError(
            "the local-statistics baseline looks up each pixel's nearest neighbour in a k-d tree (scipy), which an "
            "ONNX graph cannot hold; score it with ganspect itself (the library, `ganspect score` or `ganspect serve`)"
        )
    if getattr(det, "mapping", None) == "search":
        raise ValueError(
            "this AnoGAN maps images by the latent search, an iterative optimisation of Gamma steps per image that "
            "an ONNX graph cannot hold; train with mapping='encoder' (f-AnoGAN) for an exportable one-pass scorer"
        )
    if getattr(det, "refine_steps", 0):
        raise ValueError(
            f"this AnoGAN refines the encoder's z by {det.refine_steps} search steps per image, an iterative "
            "optimisation that an ONNX graph cannot hold; to export E(x) alone (one pass), set the loaded "
            "detector's refine_steps = 0 in Python and export that"
        )


def export_onnx(det: Detector | Ensemble, path: str | Path, opset: int = 18) -> Path:
    """Write the detector's one-pass scorer (an ensemble's: all members', averaged) to `path` (atomically); the
    batch dimension is dynamic."""
    check_exportable(det)
    det = type(det).from_checkpoint(det.to_checkpoint(), device="cpu")  # export from a CPU copy
    example = torch.rand(2, det.channels, det.net_size, det.net_size)
    scorer = EnsembleScorer(det) if isinstance(det, Ensemble) else OnePassScorer(det)
    with atomic_output(path) as tmp:
        torch.onnx.export(
            scorer.eval(),
            (example,),
            str(tmp),
            input_names=["images"],
            output_names=["score", "anomaly_map"],
            dynamic_shapes={"images": {0: torch.export.Dim("batch", min=1)}},
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    return Path(path)


def score_with_onnx(onnx_path: str | Path, det: Detector | Ensemble, images) -> tuple[np.ndarray, np.ndarray]:
    """Score images with onnxruntime the way a deployment would: preprocessing as the detector does it, the
    graph on whole images or on patches, and in patch mode the patches stitched back outside the graph."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    scores, maps = [], []
    for x in batches(as_dataset(images, det.channels, det.image_size), det.batch_size):
        if not det.patch_size:
            s, m = session.run(None, {"images": x.numpy()})
        else:
            patches, corners = cut_patches(x, det.patch_size, det.patch_stride or max(1, det.patch_size // 2))
            s, m = session.run(None, {"images": patches.flatten(0, 1).numpy()})
            s, m = stitch_patches(
                torch.from_numpy(s).view(len(x), len(corners)),
                torch.from_numpy(m).view(len(x), len(corners), det.patch_size, det.patch_size),
                corners,
                det.image_size,
            )
            s, m = det._finish(s, m, det.score_rule_)
            s, m = s.numpy(), m.numpy()
        scores.append(s)
        maps.append(m)
    return np.concatenate(scores), np.concatenate(maps)
