"""RepairGAN's two verdicts read off saved fits: what the test says, and what label-free validation says.

    python benchmarks/verdicts.py --data ../shared/data/cookies OUT/RepairGAN-seed0.pt OUT/RepairGAN-seed1.pt ...

For each fitted RepairGAN (the models `real_images.py` saves beside its reports), the same networks are read both
ways: the judge's verdict (the maximum of D's smoothed map) and the repair verdict (the mean of the top `top_share`
of G's smoothed residual). Printed per model:
- the test image AUROC of each, and of their sum after standardising each by the held-out good images' mean and
  spread (post hoc: the test labels are read, so nothing here may choose a setting);
- the label-free proxy of each, the AUROC of the held-out good images against synthetic defects made from them,
  for several families of defects (RepairGAN's validation family; bites and cracks, shape defects; the
  selection's specks, warps, haze and grain).
The held-out images are the ones the fit held out (the same seeded split).
With `--sigmas`, also the judge's test image AUROC with D's map smoothed by each of those `verdict_sigma` values
instead of the fitted one (the networks unchanged), per model and as a mean over the models, each set against the fitted
smoothing on the same photos with a 95% interval over draws of the photos (`ganspect.intervals`): does a thin
defect (a crack) need less smoothing than the fitted default? And a judge that chooses no smoothing: at each of
those, a photo's judge standardised by the held-out good photos' (their mean and spread), the highest kept
(benchmarks/map_smoothing.py's multi-scale verdict). Post hoc too: nothing here chooses a setting.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.data import ImageFiles, MVTecFolder
from ganspect.intervals import auroc_difference
from ganspect.validation import Validation, split_indices

FAMILIES = ("scratch,blur,stain", "bite", "crack", "speck,warp,haze,grain")


def raw_scores(det, images) -> np.ndarray:
    """(N, 2): the judge's and the repair's verdicts of each image, before either is chosen."""
    return torch.cat([s for s, _ in det._raw_batches(images, False)]).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the MVTec AD-style folder the models trained on")
    parser.add_argument("models", type=Path, nargs="+", help="fitted RepairGAN models (.pt)")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[], help="verdict_sigma values to read the judge at")
    args = parser.parse_args()
    if any(s < 0 for s in args.sigmas):
        parser.error(f"--sigmas: expected smoothings >= 0 (pixels), got {args.sigmas}")
    try:  # a wrong folder or model file: one line naming it, before any model is scored
        folder = MVTecFolder(args.data)
        tests = folder.test_images()
        models = [ganspect.load(path) for path in args.models]
    except (ValueError, OSError) as err:
        parser.error(str(err))
    for path, det in zip(args.models, models, strict=True):
        if not isinstance(det, ganspect.RepairGAN):
            parser.error(f"{path}: expected a fitted RepairGAN, got {type(det).__name__}")
    labels = np.array([t.label for t in tests])
    judged: dict[float, list[np.ndarray]] = {sigma: [] for sigma in args.sigmas}  # per smoothing, per model
    fitted, multi = [], []
    for path, det in zip(args.models, models, strict=True):
        train = ImageFiles(folder.train_paths(), det.channels, det.image_size)
        _, held = split_indices(len(train), det.validation_split, det.threshold_images, det.seed)
        normal = raw_scores(det, torch.stack([train[i] for i in held]))
        images = ImageFiles([t.path for t in tests], det.channels, det.image_size)
        test = raw_scores(det, images)
        summed = ((test - normal.mean(0)) / (normal.std(0) + 1e-12)).sum(1)
        judge, repair, both = (roc_auc_score(labels, v) for v in (test[:, 0], test[:, 1], summed))
        print(f"{path.name}: test image AUROC judge {judge:.3f}, repair {repair:.3f}, standardised sum {both:.3f}")
        # both verdicts offered to validation, as verdict="auto" offers them; the networks stay as fitted (verdict
        # shapes a fit, through the round it keeps, so the fitted value is overwritten too, for this reading only)
        det.verdict = det._fit_params["verdict"] = "auto"
        for family in FAMILIES:
            choice = Validation(train, held, det.seed, tuple(family.split(","))).measure(det)["choice"]
            print(f"  proxy on {family}: judge {choice['judge'][0]:.3f}, repair {choice['repair'][0]:.3f}")
        fitted.append(test[:, 0])
        held_images = torch.stack([train[i] for i in held])
        standardised = []
        for sigma in args.sigmas:
            det.verdict_sigma = sigma  # it only steers scoring: the networks stay as fitted
            judged[sigma].append(raw_scores(det, images)[:, 0])
            print(
                f"  judge with verdict_sigma {sigma:g}: test image AUROC {roc_auc_score(labels, judged[sigma][-1]):.3f}"
            )
            good = raw_scores(det, held_images)[:, 0]
            standardised.append((judged[sigma][-1] - good.mean()) / (good.std() + 1e-12))
        if args.sigmas:  # no smoothing chosen: each photo's judge standardised by the held-out good photos', highest
            multi.append(np.max(standardised, axis=0))
            print(f"  multi-scale judge: test image AUROC {roc_auc_score(labels, multi[-1]):.3f}")
    for sigma, scores in judged.items():
        d = auroc_difference(labels, scores, fitted)
        mean = np.mean([roc_auc_score(labels, s) for s in scores])
        print(f"judge with verdict_sigma {sigma:g}, mean over the models: {mean:.3f}; minus the fitted smoothing's "
              f"{d['difference']:+.3f} ({d['low']:+.3f} to {d['high']:+.3f})")  # fmt: skip
    if multi:
        d = auroc_difference(labels, multi, fitted)
        mean = np.mean([roc_auc_score(labels, s) for s in multi])
        print(f"multi-scale judge, mean over the models: {mean:.3f}; minus the fitted smoothing's "
              f"{d['difference']:+.3f} ({d['low']:+.3f} to {d['high']:+.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
