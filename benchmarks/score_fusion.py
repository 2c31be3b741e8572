"""RepairGAN's saved texture fits fused with local statistics: would averaging the two detectors' outputs help?

    python -m benchmarks.score_fusion --textures ../shared/data/textures --out FILE.json OUT/*-model.pt

The fusion is PyOD's recipe for combining detectors of different scales: each detector's image scores are
standardised by the mean and standard deviation of its scores on the fit's held-out normal crops, and the two
averaged; the maps likewise, by the held-out normal maps' pixels. Local statistics are fitted at the fit's seed on
the same training crops (textures.py's split), so both hold out the same crops. Per fit, for RepairGAN alone, local
statistics alone and the fusion: the test image AUROC and pixel AUROC, and the label-free proxy read on a fresh
draw of validation's defects on the held-out crops (as benchmarks/mirror_views.py reads it), with its image and
pixel parts, since the proxy is what a user without defective images would choose by. Printed; with --out, written
to a new JSON file. Nothing is chosen here. Run from the repository's root (`-m`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from benchmarks.map_smoothing import kept_fits
from benchmarks.textures import made, texture_split
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.checkpoint import write_text
from ganspect.data import as_dataset, cache_if_small
from ganspect.metrics import pixel_auroc
from ganspect.selection import FRESH_DRAW
from ganspect.synthetic import defect_kinds
from ganspect.validation import Validation, split_indices


def standardised(det: ganspect.Detector, val: Validation, test) -> dict[str, np.ndarray]:
    """`det`'s scores and maps of the held-out crops, their defective copies and the test crops, each in units of
    the held-out normal crops' spread (scores by their scores, maps by their maps' pixels)."""
    normal_s, normal_m = (np.asarray(a, np.float64) for a in det.score_and_map(val.normal))
    out = {"normal": (normal_s, normal_m)}
    for name, images in (("defective", val.defective), ("test", test)):
        out[name] = tuple(np.asarray(a, np.float64) for a in det.score_and_map(images))
    (s_mean, s_std), (m_mean, m_std) = (normal_s.mean(), normal_s.std()), (normal_m.mean(), normal_m.std())
    return {
        f"{name}_{part}": (v - mean) / (std + 1e-12)
        for name, (scores, maps) in out.items()
        for part, v, mean, std in (("scores", scores, s_mean, s_std), ("maps", maps, m_mean, m_std))
    }


def figures(read: dict[str, np.ndarray], val: Validation, split: dict) -> dict[str, float]:
    """The proxy (and its image and pixel parts) on the validation defects, and the test's image and pixel AUROC."""
    normal, defective = read["normal_scores"], read["defective_scores"]
    proxy_image = roc_auc_score(np.r_[np.zeros(len(normal)), np.ones(len(defective))], np.r_[normal, defective])
    pixel_labels = np.r_[np.zeros(read["normal_maps"].size), val.masks.numpy().ravel()]
    proxy_pixel = roc_auc_score(pixel_labels, np.r_[read["normal_maps"].ravel(), read["defective_maps"].ravel()])
    return {
        "proxy": (proxy_image + proxy_pixel) / 2,
        "proxy_image": float(proxy_image),
        "proxy_pixel": float(proxy_pixel),
        "image_auroc": float(roc_auc_score(split["labels"].numpy(), read["test_scores"])),
        "pixel_auroc": pixel_auroc(list(split["masks"].numpy()), list(read["test_maps"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--textures", type=Path, required=True, help="folder with brick.png, grass.png, gravel.png")
    parser.add_argument("--out", type=Path, help="a new JSON file for every reading")
    parser.add_argument("models", type=Path, nargs="+", help="RepairGAN fits saved by textures.py --save-models")
    args = parser.parse_args()
    if args.out and args.out.exists():
        parser.error(f"--out {args.out}: expected a new file, so that results never mix two runs")
    rows = []
    for path, (texture, repair) in kept_fits(parser, args.models, textures=True).items():
        try:
            split = texture_split(args.textures, texture)
        except OSError as err:
            parser.error(f"--textures {args.textures}: {err}")
        local = made(ganspect.LocalStatistics, repair.seed).fit(split["train"])
        data = cache_if_small(as_dataset(split["train"], repair.channels, repair.image_size))
        held = [split_indices(len(data), d.validation_split, d.threshold_images, d.seed)[1] for d in (repair, local)]
        if held[0] != held[1]:
            parser.error(f"{path}: RepairGAN and local statistics hold out different crops; expected the same")
        val = Validation(data, held[0], repair.seed + FRESH_DRAW, defect_kinds(repair.validation_defects))
        reads = {name: standardised(d, val, split["test"]) for name, d in (("RepairGAN", repair), ("local", local))}
        reads["fused"] = {k: (reads["RepairGAN"][k] + reads["local"][k]) / 2 for k in reads["RepairGAN"]}
        row = {"model": str(path), "texture": texture, "seed": repair.seed}
        row |= {name: figures(read, val, split) for name, read in reads.items()}
        print(f"{path.name}: " + "; ".join(
            f"{name} proxy {f['proxy']:.3f} ({f['proxy_image']:.3f} / {f['proxy_pixel']:.3f}), test "
            f"{f['image_auroc']:.3f} / {f['pixel_auroc']:.3f}" for name, f in row.items() if isinstance(f, dict)
        ), flush=True)  # fmt: skip
        rows.append(row)
    if args.out:
        write_text(args.out, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
