"""Images in, tensors out: arrays, datasets, image files, MVTec AD folders, MNIST, scikit-learn's digits.

Everything a detector reads passes through `as_dataset`, which yields one float tensor (C, S, S) in [0, 1] per
image at the model's size. uint8 input means 0-255; floating input means [0, 1]. Files are read one at a time
when a batch asks for them, so a folder of any size streams from disk.
"""

from __future__ import annotations

import gzip
import logging
import os
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
COLOUR_MODES = {"P", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}


def resize(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (..., H, W), anti-aliased when shrinking."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(x.shape[-2:]) == size:
        return x
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:]).float()
    out = F.interpolate(flat, size=size, mode="bilinear", align_corners=False, antialias=True)
    return out.reshape(*lead, *size)


def to_unit_float(x: torch.Tensor | np.ndarray, what: str) -> torch.Tensor:
    """uint8 -> /255; floats must already lie in [0, 1]."""
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    if not torch.is_floating_point(x):
        raise ValueError(f"{what}: expected uint8 (0-255) or float (0-1) pixels, got dtype {x.dtype}")
    x = x.float()
    if x.numel() and (not torch.isfinite(x).all() or x.min() < -1e-6 or x.max() > 1 + 1e-6):
        raise ValueError(
            f"{what}: float pixels must lie in [0, 1], got values in [{x.min():.3g}, {x.max():.3g}]"
            " (pass uint8 for 0-255 data)"
        )
    return x.clamp(0, 1)


def conform(image: torch.Tensor, channels: int, image_size: int, what: str) -> torch.Tensor:
    """(C, H, W) or (H, W) in [0, 1] -> (channels, image_size, image_size), or a ValueError naming `what`."""
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3:
        raise ValueError(f"{what}: expected an image shaped (C, H, W) or (H, W), got shape {tuple(image.shape)}")
    if image.shape[0] != channels:
        raise ValueError(
            f"{what}: expected {channels} channel(s), got {image.shape[0]} (shape {tuple(image.shape)});"
            " a model's channel count is fixed when it is built"
        )
    return resize(image, image_size)


class ArrayImages(Dataset):
    """(N, C, H, W) or (N, H, W) array or tensor, converted one image at a time."""

    def __init__(self, images: torch.Tensor | np.ndarray, channels: int, image_size: int):
        images = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
        if images.ndim not in (3, 4):
            raise ValueError(f"images: expected an array shaped (N, C, H, W) or (N, H, W), got {tuple(images.shape)}")
        if images.ndim == 4 and images.shape[1] != channels:
            raise ValueError(f"images: expected {channels} channel(s) in (N, C, H, W), got shape {tuple(images.shape)}")
        self.images = to_unit_float(images, "images")  # checked once, for the whole array
        self.channels, self.image_size = channels, image_size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return conform(self.images[i], self.channels, self.image_size, f"images[{i}]")


class DatasetImages(Dataset):
    """A user's dataset whose items are images, or tuples whose first element is the image."""

    def __init__(self, dataset: Dataset, channels: int, image_size: int):
        self.dataset, self.channels, self.image_size = dataset, channels, image_size

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> torch.Tensor:
        item = self.dataset[i]
        image = item[0] if isinstance(item, (tuple, list)) else item
        what = f"dataset item {i}"
        return conform(to_unit_float(image, what), self.channels, self.image_size, what)


MAX_PIXELS = 89_478_485  # PIL's own default: 8000x8000 reads, 14000x14000 is refused
LARGE_PIXELS = 16_000_000  # above this, a file is shrunk by whole factors while still 8-bit, before the resize


class ImageTooLarge(ValueError):
    """An image over MAX_PIXELS: refused before it is decoded."""


def set_max_pixels(count: int) -> None:
    """Raise or lower the largest image (in pixels) that is read; larger files are refused with a clear error, since
    a huge or malicious file could exhaust memory."""
    global MAX_PIXELS
    if count < 1:
        raise ValueError(f"--max-pixels: expected a positive number of pixels, got {count}")
    MAX_PIXELS = count
    Image.MAX_IMAGE_PIXELS = count  # PIL's own guard then never fires before ours


def read_image(path: str | Path | BinaryIO, channels: int, size: int | None = None) -> torch.Tensor:
    """One image file -> (channels, H, W) float in [0, 1]. Grey and colour convert to the model's channels.

    `path` may also be an open binary file (an upload, say); errors then name it by its `name` attribute.
    With `size` (the side it will be resized to), a large file (over 16 megapixels) is first shrunk by a whole
    factor while still 8-bit, keeping at least twice `size`, so that no full-size float copy is ever made."""
    path = Path(path) if isinstance(path, (str, os.PathLike)) else path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit decides, below
            with Image.open(path) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise ImageTooLarge(
                        f"{path}: {im.width}x{im.height} is over the {MAX_PIXELS:,} pixels ganspect reads; "
                        "raise the limit with --max-pixels (or ganspect.data.set_max_pixels) if the file is trusted"
                    )
                im.load()
                mode = im.mode
                if mode not in GREY_MODES | COLOUR_MODES:
                    raise ValueError(f"{path}: expected a grey or colour image, got PIL mode {mode!r}")
                if mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                    # by the format's range, the same for every image: 16-bit (PIL reads 16-bit PNGs as I or I;16)
                    # is 0-65535, float is 0-1; never by an image's own values
                    arr = np.asarray(im, dtype=np.float32) * (255.0 if mode == "F" else 255.0 / 65535.0)
                    im = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
                im = im.convert("L" if channels == 1 else "RGB")
                factor = min(im.width, im.height) // (2 * size) if size else 1
                if im.width * im.height > LARGE_PIXELS and factor > 1:
                    im = im.reduce(factor)
                arr = np.array(im, dtype=np.uint8)  # np.array: a writable copy, which torch takes without one more
    except Image.DecompressionBombError as err:  # past twice PIL's own limit, before ours could look
        raise ImageTooLarge(
            f"{path}: over the {MAX_PIXELS:,} pixels ganspect reads ({err}); raise the limit with --max-pixels"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"{path}: cannot read it as an image ({err})") from None
    if channels not in (1, 3):
        raise ValueError(f"{path}: image files convert to 1 or 3 channels, the model has {channels}")
    x = torch.from_numpy(arr)
    x = x[None] if x.ndim == 2 else x.permute(2, 0, 1)
    return x.float().div_(255.0)


def read_mask(path: str | Path, size: tuple[int, int]) -> torch.Tensor:
    """A ground-truth mask -> bool (H, W); its size must equal its image's (MVTec AD's convention)."""
    try:
        with Image.open(path) as im:
            mask = np.asarray(im.convert("L")) > 127
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"{path}: cannot read the mask ({err})") from None
    if mask.shape != tuple(size):
        raise ValueError(f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} (WxH) but its image is {size[1]}x{size[0]}")
    return torch.from_numpy(mask)


def image_size_of(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image file, read from its header only."""
    try:
        with Image.open(path) as im:
            return im.height, im.width
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"{path}: cannot read it as an image ({err})") from None


class ImageFiles(Dataset):
    """Image files read on demand and resized to the model's size."""

    def __init__(self, paths: Sequence[str | Path], channels: int, image_size: int):
        self.paths = [Path(p) for p in paths]
        self.channels, self.image_size = channels, image_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return resize(read_image(self.paths[i], self.channels, self.image_size), self.image_size)


class CachedImages(Dataset):
    """Keeps each image after its first read, so training decodes a file once, not once per epoch.
    Used only when the whole set fits in `MEMORY_CACHE_BYTES` at the model's size."""

    def __init__(self, images: Dataset):
        self.images, self.cache = images, {}

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> torch.Tensor:
        if i not in self.cache:
            self.cache[i] = self.images[i]
        return self.cache[i]


MEMORY_CACHE_BYTES = 1 << 30


def cache_if_small(images: Dataset) -> Dataset:
    """Files that fit in 1 GiB as float32 are kept in memory; larger sets stream from disk every epoch."""
    if isinstance(images, ImageFiles):
        nbytes = len(images) * images.channels * images.image_size**2 * 4
        if nbytes <= MEMORY_CACHE_BYTES:
            return CachedImages(images)
    return images


def list_images(folder: str | Path) -> list[Path]:
    """The image files directly in `folder`, sorted; an error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: expected a folder of images, found no such folder")
    try:
        files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    except PermissionError as err:
        raise ValueError(f"{folder}: cannot list the folder ({err.strerror})") from None
    # hidden files (macOS's ._name.jpg resource forks among them) are never images of the set
    paths = sorted(p for p in files if not p.name.startswith("."))
    if len(paths) < len(files):
        log.warning("%s: skipped %d hidden file(s) whose names start with '.'", folder, len(files) - len(paths))
    if not paths:
        raise ValueError(f"{folder}: expected image files ({', '.join(IMAGE_SUFFIXES)}), found none")
    return paths


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files stay files; folders give their images."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += list_images(p)
        elif p.is_file():
            out.append(p)
        else:
            raise ValueError(f"{p}: no such file or folder")
    return out


def as_dataset(images, channels: int, image_size: int) -> Dataset:
    """Whatever the user passed -> a dataset of (channels, image_size, image_size) floats in [0, 1]."""
    if isinstance(images, (ArrayImages, DatasetImages, ImageFiles)):
        return images
    if isinstance(images, (torch.Tensor, np.ndarray)):
        return ArrayImages(images, channels, image_size)
    if isinstance(images, (str, Path)):
        return ImageFiles(expand_paths([images]), channels, image_size)
    if isinstance(images, (list, tuple)) and images and isinstance(images[0], (str, Path)):
        return ImageFiles(expand_paths(images), channels, image_size)
    if isinstance(images, Dataset) or hasattr(images, "__getitem__"):
        return DatasetImages(images, channels, image_size)
    raise ValueError(
        f"images: expected an array or tensor (N, C, H, W) or (N, H, W), a dataset, or image paths; got {type(images)}"
    )


def batches(dataset: Dataset, batch_size: int) -> DataLoader:
    """In order, never shuffled: scoring must keep the caller's order."""
    # a generator of its own: a DataLoader otherwise draws its base seed from the caller's global random state
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, generator=torch.Generator())


# --- MVTec AD layout ---------------------------------------------------------------------------------------------


@dataclass
class TestImage:
    path: Path
    label: int  # 0 normal, 1 anomalous
    defect: str
    mask_path: Path | None


class MVTecFolder:
    """root/train/good, root/test/<good|defect>, root/ground_truth/<defect>/<name>_mask.png."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"{self.root}: expected an MVTec AD-style folder, found no such folder")

    def train_paths(self) -> list[Path]:
        good = self.root / "train" / "good"
        if not good.is_dir():
            raise ValueError(f"{self.root}: expected normal training images in train/good, found no such folder")
        return list_images(good)

    def test_images(self) -> list[TestImage]:
        test = self.root / "test"
        if not test.is_dir():
            raise ValueError(f"{self.root}: expected test images in test/<good|defect>/, found no test folder")
        items = []
        for defect_dir in sorted(d for d in test.iterdir() if d.is_dir()):
            defect = defect_dir.name
            for path in list_images(defect_dir):
                mask = self.root / "ground_truth" / defect / f"{path.stem}_mask.png"
                label = 0 if defect == "good" else 1
                items.append(TestImage(path, label, defect, mask if label and mask.is_file() else None))
        if not items:
            raise ValueError(f"{test}: expected subfolders of images (good, and one per defect), found none")
        return items


# --- MNIST and scikit-learn's digits -----------------------------------------------------------------------------


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (MNIST's format), gzipped or not."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
        zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
        if zero != 0 or dtype_code != 0x08:
            raise ValueError("not an unsigned-byte IDX file")
        shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
        # a copy: frombuffer's array is read-only, and torch warns on every conversion of one
        return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape).copy()
    except (OSError, struct.error, ValueError, EOFError) as err:
        raise ValueError(f"{path}: cannot read it as an MNIST IDX file ({err})") from None


def load_mnist(folder: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels (N,)) from the four original files, .gz or not."""
    prefix = {"train": "train", "test": "t10k"}[split]
    arrays = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        candidates = [Path(folder) / f"{prefix}-{kind}{ext}" for ext in ("", ".gz")]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise ValueError(f"{folder}: expected {candidates[0].name} or {candidates[1].name}, found neither")
        arrays.append(read_idx(found))
    return arrays[0], arrays[1]


@dataclass
class OneClassSplit:
    train: np.ndarray  # normal images only
    test: np.ndarray
    test_labels: np.ndarray  # 1 = anomalous (another class)
    test_classes: np.ndarray


def one_class_mnist(folder: str | Path, digit: int) -> OneClassSplit:
    """The standard one-class protocol: train on digit k; test on the whole test set, k normal."""
    if digit not in range(10):
        raise ValueError(f"digit: expected 0-9, got {digit}")
    train_x, train_y = load_mnist(folder, "train")
    test_x, test_y = load_mnist(folder, "test")
    return OneClassSplit(train_x[train_y == digit], test_x, (test_y != digit).astype(np.int64), test_y)


def one_class_digits(digit: int = 0, seed: int = 0) -> OneClassSplit:
    """scikit-learn's bundled 8x8 digits (no download): half of digit k's images train, the rest of the
    set tests with k normal. Pixels 0-16 are scaled to uint8."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)  # (1797, 8, 8)
    labels = digits.target
    rng = np.random.default_rng(seed)
    normal = np.flatnonzero(labels == digit)
    rng.shuffle(normal)
    train_idx = normal[: len(normal) // 2]
    test_idx = np.setdiff1d(np.arange(len(labels)), train_idx)
    return OneClassSplit(
        images[train_idx], images[test_idx], (labels[test_idx] != digit).astype(np.int64), labels[test_idx]
    )


# --- patches (the AnoGAN paper trains on patches cut at random positions) ----------------------------------------


class RandomPatches(Dataset):
    """Item i: `count` patches (count, C, p, p) cut at random positions from image i, drawn afresh each time the
    image is read (so each epoch sees new positions) yet reproducibly from `seed`. Images stream from disk."""

    def __init__(self, images: Dataset, patch_size: int, count: int, seed: int):
        self.images, self.patch_size, self.count, self.seed = images, patch_size, count, seed
        self.reads = [0] * len(images)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.reads)

    def __getitem__(self, i: int) -> torch.Tensor:
        image = self.images[i]  # (C, S, S)
        p, size = self.patch_size, image.shape[-1]
        state = np.random.SeedSequence([self.seed, i, self.reads[i]]).generate_state(1)[0]
        self.reads[i] += 1
        g = torch.Generator().manual_seed(int(state))
        ys, xs = torch.randint(0, size - p + 1, (2, self.count), generator=g)
        return torch.stack([image[:, y : y + p, x : x + p] for y, x in zip(ys.tolist(), xs.tolist(), strict=True)])


def concat_patches(items: list[torch.Tensor]) -> torch.Tensor:
    """Collate (count, C, p, p) items into one batch of patches."""
    return torch.cat(items)


def patch_positions(size: int, patch_size: int, stride: int) -> list[int]:
    """Window starts along one axis: every `stride`, plus a last window flush with the edge so all pixels count."""
    starts = list(range(0, size - patch_size + 1, stride))
    if starts[-1] != size - patch_size:
        starts.append(size - patch_size)
    return starts


def cut_patches(images: torch.Tensor, patch_size: int, stride: int) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """(B, C, S, S) -> patches (B, L, C, p, p) and their top-left corners, row by row."""
    starts = patch_positions(images.shape[-1], patch_size, stride)
    corners = [(y, x) for y in starts for x in starts]
    patches = torch.stack([images[:, :, y : y + patch_size, x : x + patch_size] for y, x in corners], 1)
    return patches, corners


def stitch_patches(
    patch_scores: torch.Tensor, patch_maps: torch.Tensor, corners: list[tuple[int, int]], size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Patch results -> image results: patch_scores (B, L) and patch_maps (B, L, p, p) give the image score
    (the highest patch score, (B,)) and the image map (B, size, size), overlapping patches averaged.

    Written with plain tensor operations so that it also serves an exported ONNX scorer, whose graph sees patches."""
    p = patch_maps.shape[-1]
    total = patch_maps.new_zeros(len(patch_maps), size, size)
    count = patch_maps.new_zeros(size, size)
    for k, (y, x) in enumerate(corners):
        total[:, y : y + p, x : x + p] += patch_maps[:, k]
        count[y : y + p, x : x + p] += 1
    return patch_scores.amax(1), total / count
