"""Peak resident memory of `ganspect score` over a folder of many images (default 20,000).

    python benchmarks/memory.py --out bench_out/memory.json [--images 20000 --image-size 64 --data ../shared/data/mnist]

Writes the images as PNG files into a temporary folder (MNIST digits when --data is given, else scikit-learn's
bundled digits, repeated), fits a small encoder AnoGAN on a few hundred of them, then runs `ganspect score` on the
folder in a child process, which reports its own peak resident set size (VmHWM). A child that only imports
ganspect's command line is measured the same way, as the baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import ganspect


def digit_images(data: Path | None, n: int) -> np.ndarray:
    if data is not None:
        from ganspect.data import load_mnist

        images = load_mnist(data, "train")[0]
    else:
        from sklearn.datasets import load_digits

        images = (load_digits().images * (255 / 16)).astype(np.uint8)  # 8x8, 1,797 images
    return images[np.arange(n) % len(images)]


# Runs in the child: the command, then the child's own peak RSS (VmHWM, of this process image only: the kernel's
# getrusage figures for children also carry the parent's peak across fork and exec).
CHILD = """
import sys
from ganspect.cli import main
code = main(sys.argv[1:]) if len(sys.argv) > 1 else 0
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print("PEAK_KIB", hwm.split()[1], file=sys.stderr)
sys.exit(code)
"""


def peak_rss_mib(argv: list[str]) -> tuple[float, float]:
    """Run `ganspect argv` in a fresh child (no argv: import only); its peak RSS in MiB and its wall time."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *argv], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    kib = next(line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK_KIB"))
    return int(kib) / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench_out/memory.json"))
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--data", type=Path, default=None, help="MNIST folder (default: scikit-learn's digits)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        images = digit_images(args.data, args.images)
        for i, image in enumerate(images):
            Image.fromarray(image).save(folder / f"{i:06d}.png")
        model = Path(tmp) / "model.pt"
        det = ganspect.AnoGAN(image_size=args.image_size, width=32, steps=8, rounds=1, mapping="encoder", device="cpu")
        det.fit(images[:512]).save(model)

        baseline, _ = peak_rss_mib([])
        csv = Path(tmp) / "scores.csv"
        peak, seconds = peak_rss_mib(["-q", "score", str(model), str(folder), "--csv", str(csv)])
        rows = csv.read_text().count("\n") - 1
    result = {
        "images": args.images,
        "image_size": args.image_size,
        "detector": "AnoGAN(mapping='encoder', width=32)",
        "rows_written": rows,
        "score_peak_rss_mib": round(peak, 1),
        "import_only_peak_rss_mib": round(baseline, 1),
        "score_seconds": round(seconds, 1),
        "images_per_second": round(args.images / seconds, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
