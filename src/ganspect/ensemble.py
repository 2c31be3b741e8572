"""Several fits of one method, their finished scores and maps averaged: a steadier verdict and sharper maps.

A GAN's fit is one draw. On cookies, RepairGAN's image AUROC ranges from 0.89 to 1.00 over nine seeds, and which
photos a fit misreads changes with the seed. Averaging several fits is the oldest cure for that spread (deep
ensembles: Lakshminarayanan, Pritzel and Blundell, NeurIPS 2017). Measured on cookies (docs/measurements.md), three
RepairGAN fits averaged narrow the image AUROC's spread by half to two thirds and give the best maps measured there
without defective photos, at three times the fit and the scoring.

The members are fitted as usual, each with its own seed (so each also holds out other images and trains on the
rest), one after another or on several machines at once, then joined:

    ganspect fit repairgan DATA --channels 3 --seed 0 -o m0.pt     # and --seed 1 -o m1.pt, --seed 2 -o m2.pt
    ganspect ensemble m0.pt m1.pt m2.pt -o ensemble.pt
    ganspect evaluate ensemble.pt DATA --out report/

or `Ensemble([ganspect.load(p) for p in paths])` in Python. An Ensemble scores, maps, predicts, saves, loads,
evaluates, serves and exports to ONNX like a detector. It does not fit: each member's fit keeps its own checkpoint,
resume and validation, and members are trained fastest as separate processes anyway.

Each member finishes its own output (its smoothing, its image-score rule), so the average is of what each would
report alone, and an image's score still depends on that image alone. `threshold_` is the mean of the members'
thresholds: each comes from images its member held out, but those images trained other members, so no image is
held out from the ensemble as a whole. Averaging narrows the spread of normal images' scores, so at that threshold
the ensemble usually flags fewer normal images than a member would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .data import as_dataset, batches
from .detector import Detector, detector_classes

log = logging.getLogger(__name__)

# the fields every member must share: the images it reads and how its maps line up pixel for pixel
SHARED_FIELDS = ("image_size", "channels", "patch_size")


@dataclass(eq=False)
class Ensemble:
    """Fitted detectors of one method, their scores and maps averaged."""

    members: list[Detector]

    def __post_init__(self) -> None:
        self.members = list(self.members)
        if len(self.members) < 2:
            raise ValueError(f"members: expected at least two fitted detectors, got {len(self.members)}")
        first = self.members[0]
        for k, member in enumerate(self.members):
            if not isinstance(member, Detector):
                raise ValueError(f"members: expected fitted ganspect detectors, got {type(member).__name__} at {k}")
            member._check_usable()
            if type(member) is not type(first):
                raise ValueError(
                    f"members: expected fits of one method, whose scores and maps share a scale; got "
                    f"{type(first).__name__} (member 0) and {type(member).__name__} (member {k})"
                )
            for name in SHARED_FIELDS:
                if getattr(member, name) != getattr(first, name):
                    raise ValueError(
                        f"members: member {k} has {name}={getattr(member, name)!r}, member 0 "
                        f"{getattr(first, name)!r}; expected one {name} for all"
                    )
        seeds = [m.seed for m in self.members]
        if len(set(seeds)) < len(seeds):
            log.warning("members share a seed (%s): fits of one seed on one machine are the same model", seeds)
        self.threshold_ = float(np.mean([m.threshold_ for m in self.members]))
        self.map_scale_ = float(np.mean([m.map_scale_ for m in self.members]))

    # --- what callers read off a detector ---------------------------------------------------------------------
    @property
    def image_size(self) -> int:
        return self.members[0].image_size

    @property
    def channels(self) -> int:
        return self.members[0].channels

    @property
    def patch_size(self) -> int:
        return self.members[0].patch_size

    @property
    def net_size(self) -> int:
        return self.members[0].net_size

    @property
    def batch_size(self) -> int:
        return self.members[0].batch_size

    @property
    def score_rule_(self) -> str:
        return f"mean of {len(self.members)} members ({', '.join(m.score_rule_ for m in self.members)})"

    @property
    def validation_(self) -> dict[str, float]:
        """The members' validation figures, averaged where every member has them."""
        common = set.intersection(*(set(m.validation_) for m in self.members))
        means = {k: float(np.mean([m.validation_[k] for m in self.members])) for k in sorted(common)}
        return {"members": float(len(self.members)), **means}

    @property
    def history_(self) -> dict[str, list[float]]:
        return {}  # each member's rounds are its own; see ensemble.members[k].history_

    def _check_usable(self) -> None:
        for member in self.members:
            member._check_usable()

    # --- scoring ---------------------------------------------------------------------------------------------------
    def _scored_batches(self, images, progress: bool):
        """Yield (scores (B,), maps (B, S, S)) averaged over the members, the images read once."""
        self._check_usable()
        data = as_dataset(images, self.channels, self.image_size)
        for x in tqdm(batches(data, self.batch_size), desc="scoring", unit="batch", disable=not progress):
            results = [member.score_and_map(x) for member in self.members]
            yield np.mean([s for s, _ in results], 0), np.mean([m for _, m in results], 0)

    # the public API is the detectors' own, written on _scored_batches, image_size, threshold_ and to_checkpoint:
    # borrowed, not inherited, since an ensemble has none of a detector's fields
    score_and_map = Detector.score_and_map
    score = Detector.score
    anomaly_map = Detector.anomaly_map
    predict = Detector.predict
    save = Detector.save

    def to_checkpoint(self) -> dict[str, Any]:
        return {
            "detector": "Ensemble",
            "members": [m.to_checkpoint() for m in self.members],
            "threshold": self.threshold_,  # kept: a user may have set their own
        }

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any], device: str | None = None) -> Ensemble:
        classes = detector_classes()
        members = []
        for k, member in enumerate(ckpt["members"]):
            kind = member.get("detector")
            if kind not in classes:
                raise ValueError(f"member {k} is an unknown detector {kind!r}; this ganspect knows {sorted(classes)}")
            members.append(classes[kind].from_checkpoint(member, device))
        ensemble = cls(members)
        ensemble.threshold_ = float(ckpt.get("threshold", ensemble.threshold_))
        return ensemble
