"""Choosing a detector without test labels: fit several candidates on the same normal images and keep the one whose
validation proxy is highest, measured for all of them on the same held-out images and the same synthetic defects.

Which method suits a product depends on the product: on the textures benchmark a nearest-neighbour model of local
statistics is the best of our detectors on grass and gravel and RepairGAN on brick, and on cookies the baselines'
verdicts are hard to beat. A user without defective images cannot measure that; the validation proxy is what they
have. For the proxies of different methods to be comparable:
- every candidate holds out the same images (same seed, `validation_split`, `threshold_images`) at the same size;
- every candidate validates on one family of synthetic defects that none of them trains on (by default the family
  `ganspect.synthetic.PROXY_DEFECTS` was made for: specks, warps, haze, grain; RepairGAN trains on blobs, cracks,
  rectangles and scars, and refuses to validate on them);
- after the fits, each candidate is measured again on a fresh draw of those defects (another seed), under the
  image-score rule it kept. A fit that picked its round and rule as the best of many on its own draw would
  otherwise be flattered by that draw's luck, where a baseline, which picks nothing, is not.

The proxy is what `fit` reports: the mean of the image AUROC (held-out normal images against their defective
copies) and the pixel AUROC. With `known_defects` (a few real defective images), every fit chooses its image-score
rule on them, and the choice between candidates uses their image AUROC against the held-out normal images in place
of the synthetic one; the pixel AUROC still comes from the synthetic defects (real ones come without masks here).

This is the textures benchmark's "validation picks" made into a library call: there it kept the best of three fits
on all nine (texture, seed) pairs. The proxy is a label-free guess, not a measurement of the test: on cookies it does
not track the test round by round (docs/measurements.md), so read the choice as such.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from .data import as_dataset, cache_if_small
from .detector import Detector
from .synthetic import PROXY_DEFECTS, defect_kinds
from .validation import Validation, split_indices

log = logging.getLogger(__name__)

SELECTION_DEFECTS = ",".join(PROXY_DEFECTS)
FRESH_DRAW = 1_000_003  # added to the seed: the re-measuring defects are another draw than those the fits chose on
SHARED_FIELDS = ("channels", "image_size", "seed", "validation_split", "threshold_images")


@dataclass
class Selection:
    """What `select` found: the chosen detector (fitted), every candidate fitted (by name), and a row of figures
    per candidate, in the order given."""

    best: Detector
    name: str
    fitted: dict[str, Detector]
    table: list[dict]

    def summary(self) -> str:
        """The table as text lines, the chosen candidate marked."""
        lines = []
        for row in self.table:
            mark = "  <- chosen" if row["name"] == self.name else ""
            known = f", known-defect AUROC {row['known_auroc']:.3f}" if "known_auroc" in row else ""
            lines.append(
                f"{row['name']}: proxy {row['proxy']:.3f} (image AUROC {row['proxy_auroc']:.3f}, pixel AUROC "
                f"{row['proxy_pixel_auroc']:.3f}{known}), fit {row['fit_minutes']:.2f} min{mark}"
            )
        return "\n".join(lines)


def candidate_names(candidates: Sequence[Detector] | Mapping[str, Detector]) -> dict[str, Detector]:
    """Candidates by name: a mapping's own keys, or each detector's class name (numbered when one repeats)."""
    if isinstance(candidates, Mapping):
        named = dict(candidates)
    else:
        named = {}
        for det in candidates:
            base = type(det).__name__
            name, k = base, 2
            while name in named:
                name, k = f"{base} {k}", k + 1
            named[name] = det
    if not named:
        raise ValueError("candidates: expected at least one detector, got none")
    for name, det in named.items():
        if not isinstance(det, Detector):
            raise ValueError(f"candidates: {name!r} is a {type(det).__name__}, expected a ganspect detector")
    return named


def check_comparable(named: dict[str, Detector]) -> None:
    """The candidates must hold out the same images at the same size, or their proxies measure different things."""
    (first, ref), *others = named.items()
    if ref.validation_split <= 0:
        raise ValueError(
            f"validation_split: the proxy needs held-out images; expected > 0, got {ref.validation_split} ({first!r})"
        )
    for name, det in others:
        for field in SHARED_FIELDS:
            if getattr(det, field) != getattr(ref, field):
                raise ValueError(
                    f"{field}: every candidate must hold out the same images at the same size; {name!r} has "
                    f"{getattr(det, field)!r}, {first!r} has {getattr(ref, field)!r}"
                )


def select(
    candidates: Sequence[Detector] | Mapping[str, Detector],
    images,
    progress: bool = False,
    validation_defects: str = SELECTION_DEFECTS,
    known_defects=None,
) -> Selection:
    """Fit every candidate on `images` (normal only), each validating on `validation_defects`, and keep the one
    whose proxy, measured again on a fresh draw of those defects, is highest (the first listed on a tie). The
    candidates given are not changed: copies with `validation_defects` set are fitted."""
    named = candidate_names(candidates)
    check_comparable(named)
    kinds = defect_kinds(validation_defects)
    if not kinds:
        raise ValueError(f"validation_defects: expected comma-separated kinds of defect, got {validation_defects!r}")
    named = {name: dataclasses.replace(det, validation_defects=validation_defects) for name, det in named.items()}
    for det in named.values():
        det._check_params()  # a bad field, or a candidate trained on these kinds, fails before any training

    ref = next(iter(named.values()))
    data = cache_if_small(as_dataset(images, ref.channels, ref.image_size))
    if len(data) < 2:
        raise ValueError(f"images: expected at least two normal images (one to hold out), got {len(data)}")
    _, held_idx = split_indices(len(data), ref.validation_split, ref.threshold_images, ref.seed)
    known = ref._known_images(known_defects, held_idx)
    fresh = Validation(data, held_idx, ref.seed + FRESH_DRAW, kinds, known)

    table = []
    for k, (name, det) in enumerate(named.items(), 1):
        log.info("selection: fitting %s", name)
        if progress:
            tqdm.write(f"select: fitting {name} ({k} of {len(named)})", file=sys.stderr)
        start = time.perf_counter()
        det.fit(data, progress=progress, known_defects=known)
        minutes = (time.perf_counter() - start) / 60
        figures = fresh.measure(det, det.score_rule_)
        row = {"name": name, "proxy_auroc": figures["proxy_auroc"], "proxy_pixel_auroc": figures["proxy_pixel_auroc"]}
        if known is not None:
            row["known_auroc"] = figures["known_auroc"]
            row["proxy"] = (figures["known_auroc"] + figures["proxy_pixel_auroc"]) / 2
        else:
            row["proxy"] = figures["proxy"]
        table.append(row | {"rule": det.score_rule_, "fit_minutes": minutes})
    best = max(table, key=lambda r: r["proxy"])  # max keeps the first of equals
    chosen = named[best["name"]]
    chosen.validation_ |= {"selection_proxy": best["proxy"], "selection_candidates": float(len(named))}
    log.info("selection: chose %s (proxy %.3f)", best["name"], best["proxy"])
    return Selection(best=chosen, name=best["name"], fitted=named, table=table)
