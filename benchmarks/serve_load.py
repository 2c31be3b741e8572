"""`ganspect serve` under load: throughput, latency, errors and memory, from a second process on loopback.

    python benchmarks/serve_load.py --data ../shared/data/cookies --out bench_out/serve [--requests 2000]

For each detector (an encoder AnoGAN and RepairGAN, both at their defaults with channels=3; trained for a few
steps only, since speed does not depend on how long a model trained), this script:
1. fits and saves the model, and measures in-process `det.score()` on the test images as files (decoding
   included, batches of 32: images per second), and one image at a time (the median single-image time);
2. starts `python -m ganspect serve MODEL` in its own process and waits for /health;
3. from this process, sends `--requests` POST /score requests, each one test image as the raw body (the JPEG as
   it comes from a camera), at each concurrency of `--concurrency` (a lean asyncio HTTP/1.1 client, like wrk,
   with that many requests in flight at all times on keep-alive connections);
4. reports requests per second, p50/p99 latency, non-200 answers, the client's own CPU per request, and the
   server's resident memory before and after the load.
Client and server share the machine's cores, as a line computer would. OUT/results.json and OUT/results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import numpy as np

import ganspect
from ganspect.checkpoint import write_text
from ganspect.data import ImageFiles, MVTecFolder
from ganspect.serve import serving_process

DETECTORS = {
    "AnoGAN, encoder": lambda: ganspect.AnoGAN(channels=3, mapping="encoder", steps=20, rounds=2, encoder_steps=20),
    "RepairGAN": lambda: ganspect.RepairGAN(channels=3, steps=20, rounds=2),
}


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS")).split()[1]) / 1024


async def post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes) -> int:
    """One POST /score on an open keep-alive connection; returns the status once the whole answer is read."""
    writer.write(head + body)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection without answering (did it crash? see its output)")
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def load(url: str, bodies: list[bytes], requests: int, concurrency: int) -> dict:
    """`requests` POSTs with `concurrency` in flight; returns rps, p50/p99 latency (ms), the non-200 count and the
    client's own CPU milliseconds per request.

    The client speaks HTTP/1.1 itself over asyncio streams, one keep-alive connection per request in flight, as
    wrk does: it shares the two cores with the server, and a full HTTP library in Python (httpx: about 3 ms of CPU
    per request at 32 in flight, measured) would take that CPU from the server it measures."""
    host, port = url.removeprefix("http://").split(":")
    heads = [
        f"POST /score HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        for body in bodies
    ]
    latencies: list[float] = []
    errors = 0
    sent = 0

    async def worker() -> None:
        nonlocal sent, errors
        reader, writer = await asyncio.open_connection(host, int(port))
        while sent < requests:
            k = sent % len(bodies)
            sent += 1
            start = time.perf_counter()
            status = await post(reader, writer, heads[k], bodies[k])
            latencies.append(time.perf_counter() - start)
            errors += status != 200
        writer.close()
        await writer.wait_closed()

    cpu = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "errors": errors,
        "client_cpu_ms": (time.process_time() - cpu) / len(latencies) * 1000,
    }


def in_process(det, paths: list[Path]) -> dict:
    files = ImageFiles(paths, det.channels, det.image_size)
    det.batch_size = 32
    det.score(files)  # warm-up
    start = time.perf_counter()
    det.score(files)
    batched = len(paths) / (time.perf_counter() - start)
    single = []
    for p in paths[:30]:
        start = time.perf_counter()
        det.score(ImageFiles([p], det.channels, det.image_size))
        single.append(time.perf_counter() - start)
    return {"score_images_per_s": batched, "single_image_ms": float(np.median(single) * 1000)}


def run_detector(name: str, data: Path, out: Path, requests: int, concurrencies: list[int]) -> list[dict]:
    det = DETECTORS[name]()
    det.fit(ImageFiles(MVTecFolder(data).train_paths(), det.channels, det.image_size))
    model = out / f"{name.replace(' ', '_').replace(',', '')}.pt"
    det.save(model)
    paths = [t.path for t in MVTecFolder(data).test_images()]
    reference = in_process(det, paths)
    bodies = [p.read_bytes() for p in paths]
    rows = []
    with serving_process(model) as (url, pid):
        asyncio.run(load(url, bodies, 50, 4))  # warm-up
        for concurrency in concurrencies:
            before = rss_mib(pid)
            figures = asyncio.run(load(url, bodies, requests, concurrency))
            after = rss_mib(pid)
            row = {"detector": name, "concurrency": concurrency, **figures, "rss_before_mib": before}
            row.update(rss_after_mib=after, **reference)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| detector | concurrency | requests/s | p50 (ms) | p99 (ms) | errors | RSS before -> after (MiB) "
        "| in-process score() (images/s) | one image in-process (ms) | client CPU (ms / request) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['detector']} | {r['concurrency']} | {r['rps']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['errors']} | {r['rss_before_mib']:.0f} -> {r['rss_after_mib']:.0f} | "
            f"{r['score_images_per_s']:.1f} | {r['single_image_ms']:.1f} | {r['client_cpu_ms']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="MVTec AD-style folder: trains on train/good")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out}: expected a new or empty folder, so that results never mix two runs")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.detectors:
        rows += run_detector(name, args.data, args.out, args.requests, args.concurrency)
        write_text(args.out / "results.json", json.dumps(rows, indent=2) + "\n")
    text = table(rows)
    write_text(args.out / "results.md", f"serve load, {args.requests} requests per row\n\n{text}")
    print(text)


if __name__ == "__main__":
    main()
