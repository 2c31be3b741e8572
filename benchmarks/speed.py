"""Speed, side by side in one run: the latent search one image at a time (as reference implementations do it) and
batched (ganspect), f-AnoGAN's encoder (alone and refined by a short search), OGNet's scoring, training
throughput, RepairGAN's scoring and training step; the FLOP floor of a search step.

    python benchmarks/speed.py --out bench_out/speed.json [--gamma 500 --seed-gamma 100 --batch 64 --repeats 3]

Two sets of AnoGAN networks: ganspect's DCGAN (searched at Gamma = 500) and the seed's networks (searched at
--seed-gamma steps, since a step there costs ~8x more; per-image figures are also scaled to Gamma = 500).

Timings are medians over `repeats`; ratios compare timings taken in this same run. Network weights do not change
how long a step takes, so the networks here are freshly initialised; quality is measured elsewhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import ganspect
from ganspect import repairgan
from ganspect.synthetic import defect_kinds
from seed_networks import SeedNetworksAnoGAN


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    return 2 * n**3 / median_seconds(lambda: a @ b, repeats) / 1e9


def fitted(det: ganspect.Detector) -> ganspect.Detector:
    """Networks built and frozen as after fit, without training (timing does not depend on the weights)."""
    det._check_params()
    det.device_ = torch.device("cpu")
    for name, net in det._build_networks().items():
        setattr(det, name + "_", net)
    det.threshold_, det.history_, det.score_rule_, det.map_scale_ = 0.0, {}, "model", 1.0
    det.map_reference_ = None
    det._fit_params = dataclasses.asdict(det)
    det._freeze()
    return det


def reference_search(det, x: torch.Tensor, gamma: int, weights_grad: bool) -> None:
    """One image, one z, as the seed's code does it; with weights_grad the frozen networks' weights still
    receive gradients, as in code that never turns them off."""
    gen, disc = det.generator_, det.discriminator_
    for net in (gen, disc):
        net.requires_grad_(weights_grad)
    real = x * 2 - 1
    z = torch.randn(1, det.latent_dim, requires_grad=True)
    opt = torch.optim.Adam([z], lr=det.search_lr)
    feat_real = disc.features(real).detach()
    for _ in range(gamma):
        fake = gen(z)
        loss = 0.9 * (real - fake).abs().sum() + 0.1 * (feat_real - disc.features(fake)).abs().sum()
        opt.zero_grad()
        if weights_grad:
            gen.zero_grad()
            disc.zero_grad()
        loss.backward()
        opt.step()
    for net in (gen, disc):
        net.requires_grad_(False)


def search_step_flops(det, batch: int) -> float:
    """FLOPs of one search step (forward and backward) per image."""
    x = torch.rand(batch, det.channels, det.image_size, det.image_size)
    saved = det.search_steps
    det.search_steps = 1
    with FlopCounterMode(display=False) as counter:
        det.search(x)
    det.search_steps = saved
    return counter.get_total_flops() / batch


def bench_search(name: str, det, gamma: int, repeats: int, reference_images: int, gflops: float) -> dict:
    """The latent search on `det`'s networks at `gamma` steps: batched (ganspect) against one image at a time
    (with and without gradients into the frozen weights), and against the FLOP floor. Per-image figures are also
    given at Gamma = 500 (a step costs the same whatever its number, so they scale linearly)."""
    det.search_steps = gamma
    det = fitted(det)
    x = torch.rand(det.batch_size, det.channels, det.image_size, det.image_size)
    per_image = {"search_batched": median_seconds(lambda: det._score_batch(x), repeats) / det.batch_size}
    for weights_grad in (True, False):
        key = "search_one_at_a_time" + ("_weights_grad" if weights_grad else "")
        per_image[key] = (
            median_seconds(
                lambda wg=weights_grad: [
                    reference_search(det, x[i : i + 1], gamma, wg) for i in range(reference_images)
                ],
                1,
            )
            / reference_images
        )
    flops = search_step_flops(det, det.batch_size)
    floor = flops * gamma / (gflops * 1e9)
    return {
        "networks": name,
        "image_size": det.image_size,
        "gamma": gamma,
        "batch": det.batch_size,
        "seconds_per_image": per_image,
        "seconds_per_image_at_gamma_500": {k: v * 500 / gamma for k, v in per_image.items()},
        "search_step_mflop_per_image": flops / 1e6,
        "flop_floor_seconds_per_image": floor,
        "batched_vs_floor": per_image["search_batched"] / floor,
        "batched_speedup_vs_one_at_a_time_weights_grad": per_image["search_one_at_a_time_weights_grad"]
        / per_image["search_batched"],
        "batched_speedup_vs_one_at_a_time": per_image["search_one_at_a_time"] / per_image["search_batched"],
    }


def bench_encoder(size: int, batch: int, repeats: int, search_seconds_per_image: float) -> dict:
    enc = fitted(ganspect.AnoGAN(image_size=size, mapping="encoder", batch_size=batch, device="cpu"))
    x = torch.rand(batch, 1, size, size)
    enc._score_batch(x)  # warm-up
    seconds = median_seconds(lambda: enc._score_batch(x), max(repeats, 5)) / batch
    return {
        "image_size": size,
        "seconds_per_image": seconds,
        "speedup_vs_batched_search_gamma_500": search_seconds_per_image / seconds,
    }


def bench_refine(repeats: int, steps: tuple[int, ...] = (0, 30, 100)) -> dict:
    """f-AnoGAN's encoder with its z refined by `refine_steps` search steps (`--only-refine`), as on the cookies
    (64 px colour, the default width): milliseconds per image in batches of 32 and one image at a time."""
    det = fitted(ganspect.AnoGAN(image_size=64, channels=3, mapping="encoder", device="cpu"))
    out = {}
    for count in steps:
        det.refine_steps = count
        for batch in (32, 1):
            x = torch.rand(batch, 3, 64, 64)
            det._score_batch(x)  # warm-up
            out[f"refine_steps_{count}_batch_{batch}_ms_per_image"] = (
                median_seconds(lambda x=x: det._score_batch(x), repeats) / batch * 1000
            )
    return out


def bench_ognet(architecture: str, size: int, batch: int, repeats: int) -> dict:
    width = 64 if architecture == "official" else 32
    det = fitted(
        ganspect.OGNet(architecture=architecture, image_size=size, width=width, batch_size=batch, device="cpu")
    )
    x = torch.rand(batch, 1, size, size)
    det._score_batch(x)
    with FlopCounterMode(display=False) as counter:
        det._score_batch(x)
    return {
        "architecture": architecture,
        "image_size": size,
        "score_gflop_per_image": counter.get_total_flops() / batch / 1e9,
        "score_seconds_per_image": median_seconds(lambda: det._score_batch(x), repeats) / batch,
    }


def bench_repairgan(repeats: int) -> dict:
    """RepairGAN: one 256x256 image scored alone (the model at image_size 256, and the default 64 px model given a
    256 px image, resize included; each also with mirror_views, four views a pass), a batch of 32 at 64 px, and one
    training step (16 crops of 64 px, defects included), each the median of at least 10 runs; with the networks on
    channels-last tensors (as shipped) and, for the ratio, on contiguous ones (as before), measurement by
    measurement."""
    shipped = repairgan.channels_last
    layouts = {"channels_last": shipped, "contiguous": lambda x: x}
    repeats = max(repeats, 10)
    out: dict = {layout: {} for layout in layouts}

    def timed(key: str, fn) -> None:
        fn()  # warm-up
        for layout, convert in layouts.items():
            repairgan.channels_last = convert
            out[layout][key] = median_seconds(fn, repeats) * 1e3
        repairgan.channels_last = shipped

    for size in (256, 64):
        one = torch.rand(1, 3, 256, 256)
        for views in (False, True):  # mirror_views: the image and its three mirror images in one pass
            det = fitted(ganspect.RepairGAN(image_size=size, channels=3, mirror_views=views, device="cpu"))
            name = f"one_256px_image_at_image_size_{size}{'_mirror_views' if views else ''}_ms"
            timed(name, lambda det=det, one=one: det.score(one))
    batch = torch.rand(32, 3, 64, 64)
    det = fitted(ganspect.RepairGAN(channels=3, device="cpu"))
    timed("batch_of_32_at_64px_ms", lambda: det.score(batch))
    det = ganspect.RepairGAN(channels=3, device="cpu")
    nets = det._build_networks()
    opt = torch.optim.Adam([p for n in nets.values() for p in n.parameters()])
    x = torch.rand(16, 3, 64, 64)

    def step() -> None:
        damaged, masks = det._damage(x, 0, defect_kinds(det.defects))
        repair = nets["repairer"](damaged)
        logits = nets["judge"](torch.cat([damaged, repair.detach()], 1))
        loss = torch.nn.functional.mse_loss(repair, x * 2 - 1) + logits.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    timed("training_step_ms", step)
    for key in out["channels_last"]:
        out[f"speed-up of channels_last: {key}"] = out["contiguous"][key] / out["channels_last"][key]
    return out


def bench_training(size: int, images: int) -> dict:
    """Images per second through fit's training loop: the difference between 2k and k steps (no validation split,
    so nothing but training is timed)."""
    data = torch.randint(0, 256, (images, 1, size, size), dtype=torch.uint8)
    steps = max(1, images // 64)
    out = {}
    for name, make in {
        "AnoGAN": lambda n: ganspect.AnoGAN(image_size=size, steps=n, rounds=1, validation_split=0, device="cpu"),
        "OGNet": lambda n: ganspect.OGNet(
            image_size=size, steps=n, rounds=1, old_round=1, phase_two_steps=0, validation_split=0, device="cpu"
        ),
    }.items():
        times = {}
        for n in (steps, 2 * steps):
            det = make(n)
            det._threshold_from = lambda data, progress: 0.0  # time the training loop alone
            times[n] = median_seconds(lambda det=det: det.fit(data), 1)
        out[name] = steps * 64 / (times[2 * steps] - times[steps])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench_out/speed.json"))
    parser.add_argument("--gamma", type=int, default=500)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed-gamma", type=int, default=100, help="search steps timed on the seed's networks")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference-images", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[28], help="AnoGAN image sizes (64: ~10 min more)")
    parser.add_argument("--only-repairgan", action="store_true", help="RepairGAN's figures alone (about a minute)")
    parser.add_argument("--only-refine", action="store_true", help="AnoGAN's refined encoder alone (about a minute)")
    args = parser.parse_args()
    if args.only_repairgan:
        write(args.out, {"machine": machine(), "repairgan": bench_repairgan(args.repeats)})
        return
    if args.only_refine:
        write(args.out, {"machine": machine(), "anogan_refined_encoder": bench_refine(args.repeats)})
        return

    gflops = matmul_gflops()
    searches = [
        bench_search(
            f"ganspect DCGAN, width 64, {size}x{size}",
            ganspect.AnoGAN(image_size=size, batch_size=args.batch, device="cpu"),
            args.gamma, args.repeats, args.reference_images, gflops,
        )
        for size in args.sizes
    ]  # fmt: skip
    searches.append(
        bench_search(
            "the seed's networks (000): 100 -> 7x7x512 -> 28x28",
            SeedNetworksAnoGAN(image_size=28, batch_size=args.batch, device="cpu"),
            args.seed_gamma, args.repeats, args.reference_images, gflops,
        )
    )  # fmt: skip
    result = {
        "machine": machine(),
        "matmul_gflops": gflops,
        "anogan_search": searches,
        "anogan_encoder": [
            bench_encoder(size, args.batch, args.repeats, search["seconds_per_image_at_gamma_500"]["search_batched"])
            for size, search in zip(args.sizes, searches[: len(args.sizes)], strict=True)
        ],
        "ognet": [bench_ognet("lean", 28, args.batch, args.repeats), bench_ognet("official", 45, args.batch, 1)],
        "training_images_per_second_28px": bench_training(28, 1024),
        "repairgan": bench_repairgan(args.repeats),
        "anogan_refined_encoder": bench_refine(args.repeats),
    }
    write(args.out, result)


def machine() -> dict:
    return {"platform": platform.platform(), "threads": torch.get_num_threads(), "torch": torch.__version__}


def write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
