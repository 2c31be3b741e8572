"""How much of the textures benchmark's defect pixels could anyone see? Its pixel AUROC, read again without them.

    python -m benchmarks.faint_defects --textures ../shared/data/textures --out FILE.json OUT/*-model.pt

A test defect's mask is every pixel it changed by more than half a grey level (`ganspect.synthetic.CHANGED`), so a
blur over a flat stretch of brick face marks pixels whose grey level moved by one or two: part of the ground truth
that no eye, and no detector, can tell from the crop. For each texture of the fits given: the share of defect
pixels changed by less than `--faint` grey levels, kind by kind. For each fit, and for local statistics fitted at
its seed on the same crops: the pixel AUROC as textures.py reads it, and with those faint pixels left out of both
classes (neither counted as defect nor as normal). A reading beside the benchmark's figure, not a replacement: the
issue's targets are on the masks as made. Printed; with --out, written to a new JSON file. Run from the
repository's root (`-m`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from benchmarks.map_smoothing import kept_fits
from benchmarks.textures import KINDS, made, texture_split
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.checkpoint import write_text
from ganspect.synthetic import UNSEEN_DEFECTS


def faint_pixels(split: dict, faint: float) -> np.ndarray:
    """(N, S, S) bool: the defect pixels changed by less than `faint` grey levels (of 255)."""
    change = (split["test"] - split["before"]).abs().amax(1).numpy() * 255
    return split["masks"].numpy() & (change < faint)


def pixel_aurocs(maps: np.ndarray, masks: np.ndarray, faint: np.ndarray) -> dict[str, float]:
    """The pixel AUROC over every pixel, and over every pixel but the faint ones."""
    kept = ~faint
    return {
        "pixel_auroc": float(roc_auc_score(masks.ravel(), maps.ravel())),
        "pixel_auroc_visible": float(roc_auc_score(masks[kept], maps[kept])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--textures", type=Path, required=True, help="folder with brick.png, grass.png, gravel.png")
    parser.add_argument("--out", type=Path, help="a new JSON file for every reading")
    parser.add_argument("--faint", type=float, default=8.0, help="grey levels (of 255) below which a change is faint")
    parser.add_argument("models", type=Path, nargs="+", help="RepairGAN fits saved by textures.py --save-models")
    args = parser.parse_args()
    if args.out and args.out.exists():
        parser.error(f"--out {args.out}: expected a new file, so that results never mix two runs")
    if not 0 < args.faint <= 255:
        parser.error(f"--faint: expected grey levels in (0, 255], got {args.faint}")
    splits, rows = {}, []  # texture -> (split, masks, faint pixels): read once per texture
    for path, (texture, repair) in kept_fits(parser, args.models, textures=True).items():
        if texture not in splits:
            try:
                split = texture_split(args.textures, texture)
            except OSError as err:
                parser.error(f"--textures {args.textures}: {err}")
            splits[texture] = split, split["masks"].numpy(), faint_pixels(split, args.faint)
            _, masks, faint = splits[texture]
            of_kind = {kind: np.equal(KINDS, kind) for kind in UNSEEN_DEFECTS}
            shares = {kind: faint[crops].sum() / masks[crops].sum() for kind, crops in of_kind.items()}
            shares["all"] = faint.sum() / masks.sum()
            print(f"{texture}: share of defect pixels changed by less than {args.faint:g} grey levels: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in shares.items()))  # fmt: skip
            rows.append({"texture": texture, "faint_share": {k: float(v) for k, v in shares.items()}})
        split, masks, faint = splits[texture]
        local = made(ganspect.LocalStatistics, repair.seed).fit(split["train"])
        row = {"model": str(path), "texture": texture, "seed": repair.seed}
        for name, det in (("RepairGAN", repair), ("local", local)):
            _, maps = det.score_and_map(split["test"])
            row[name] = pixel_aurocs(np.asarray(maps), masks, faint)
            print(f"{path.name}: {name} pixel AUROC {row[name]['pixel_auroc']:.3f}, faint pixels left out "
                  f"{row[name]['pixel_auroc_visible']:.3f}")  # fmt: skip
        rows.append(row)
    if args.out:
        write_text(args.out, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
