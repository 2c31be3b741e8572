"""The scoring service: `ganspect serve MODEL.pt`, a trained detector behind HTTP, and an inspection page.

- `POST /score`: images as multipart parts (any field name, one or many), or one image as the raw request body.
  Each image gets {name, score, predicted, threshold, detector}, or {name, error} when it cannot be read; the
  others in the same request are scored all the same. The status is 200 when every image was scored, 400 when
  some image could not be read, 413 when some image is over the pixel limit or the request over its byte limit.
  `?map=1` adds `anomaly_map_png`: the heat map as a base64 PNG at the model's size, coloured on a fixed scale
  (`map_scale` of /model), ready to lay over the image.
- `GET /health`, `GET /model` (detector, hyperparameters, threshold, validation figures, input size, what a request
  costs), `GET /` the inspection page, `GET /docs` and `/openapi.json` from FastAPI.

Why FastAPI on uvicorn: a well-kept ASGI stack with an OpenAPI schema for free, multipart parsing, and one event
loop that keeps many connections open cheaply while the model runs in a thread of its own.

Batching: every image waits in one bounded queue. A single worker takes what is queued (up to `max_batch`
images), waits at most `max_wait_ms` for more, and scores them in one call of the detector in its own thread.
A lone request on an idle server is scored at once (with the default wait of 0), and requests that arrive while
the model is busy form the next batch, so throughput under load approaches a batched `score()`. Scores never
depend on batch mates (the detector's contract), so batching changes speed only. When the queue cannot take a
request's images, the request is answered 503 with Retry-After at once: no unbounded backlog.

Threads and cores: decoding and scoring run side by side, each on its own share of the cores (`decode_threads`
threads decoding, `model_threads` OpenMP threads in the model's one thread; half and half by default), so under
load the next uploads are decoded while a batch is scored. Each side is held to its share because torch's CPU
kernels run on GNU OpenMP, which gives every thread running torch a team of its own: once the teams together
hold more threads than there are cores, their idle threads sleep after every operation, and a network's many
small operations each pay a wake-up (on 2 cores, one 64-px RepairGAN image took 11-12 ms in a second thread
against 4.4 ms in the only one). So the model is loaded in its own thread (`serve`), batches are stacked there,
and the decoders run torch on one OpenMP thread each: one team in the process, no larger than its share.
"""

import asyncio
import base64
import dataclasses
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image
from threadpoolctl import threadpool_limits

from . import __version__
from .data import ImageTooLarge, read_image, resize
from .detector import Detector
from .ensemble import Ensemble
from .evaluate import heat_colours

MAX_REQUEST_BYTES = 32 * 2**20


class Upload(io.BytesIO):
    """An uploaded image's bytes, named for error messages ("part 'file' (cookie.png)")."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name

    def __str__(self) -> str:
        return self.name


class Overloaded(Exception):
    """The queue cannot take the request's images now."""


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def limit_openmp(threads: int) -> None:
    """Initialiser of the service's threads: torch runs in this thread on at most `threads` OpenMP threads. The
    limit is this thread's own (torch.set_num_threads would also set the default of threads started later), and
    it is set after torch has given the thread its default, which would otherwise override it."""
    torch.get_num_threads()
    threadpool_limits(threads, user_api="openmp")


class Batcher:
    """One bounded queue of images and one worker that scores them in batches (see the module's docstring). The
    model is loaded (`load`) in the thread that scores with it."""

    def __init__(
        self,
        load: Callable[[], Detector | Ensemble],
        max_batch: int,
        max_wait_ms: float,
        queue_size: int,
        model_threads: int,
    ):
        self.max_batch, self.max_wait, self.queue_size = max_batch, max_wait_ms / 1000, queue_size
        self.queue: asyncio.Queue | None = None
        self.model_thread = ThreadPoolExecutor(
            1, thread_name_prefix="ganspect-model", initializer=partial(limit_openmp, model_threads)
        )
        try:
            self.det = self.model_thread.submit(load).result()
            self.det._check_usable()
        except BaseException:  # a model that does not load, or is not fitted, leaves no thread behind
            self.model_thread.shutdown()
            raise
        self.batches = self.images = 0

    async def start(self) -> None:
        self.queue = asyncio.Queue(self.queue_size)
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        self.task.cancel()
        self.model_thread.shutdown(wait=True)

    async def score(self, images: list[torch.Tensor]) -> list[tuple[float, np.ndarray]]:
        """(score, map) per image, in order; raises Overloaded when the queue has no room for all of them (checked
        and filled without an await between, so one request's images are queued whole or not at all)."""
        assert self.queue is not None
        if self.queue_size - self.queue.qsize() < len(images):
            raise Overloaded
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in images]
        for image, future in zip(images, futures, strict=True):
            self.queue.put_nowait((image, future))
        return list(await asyncio.gather(*futures))

    async def run(self) -> None:
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                if not self.queue.empty():
                    batch.append(self.queue.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), left))
                except TimeoutError:
                    break
            try:
                images = [image for image, _ in batch]
                scores, maps = await loop.run_in_executor(self.model_thread, self.score_batch, images)
            except Exception as err:  # a failure of the model reaches every request of the batch, not the worker
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            self.batches, self.images = self.batches + 1, self.images + len(batch)
            for (_, future), score, anomaly_map in zip(batch, scores, maps, strict=True):
                if not future.done():  # the client may have gone
                    future.set_result((float(score), anomaly_map))

    def score_batch(self, images: list[torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        """In the model's thread: every torch operation of scoring, the stacking too, runs there."""
        return self.det.score_and_map(torch.stack(images))


def heat_png(anomaly_map: np.ndarray, scale: float) -> str:
    """The map coloured as the report colours it (inferno, 0 to `scale`), as a base64 PNG."""
    buf = io.BytesIO()
    Image.fromarray((heat_colours(anomaly_map, scale) * 255).round().astype(np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def model_card(det: Detector | Ensemble, map_scale: float) -> dict:
    """What GET /model says: enough for a client to know what it talks to and what a request costs."""
    params = dataclasses.asdict(det)
    members = det.members if isinstance(det, Ensemble) else [det]
    cost = members[0].scoring_cost if len(members) == 1 else f"{len(members)} models, each {members[0].scoring_cost}"
    return {
        "detector": type(det).__name__,
        "ganspect": __version__,
        "threshold": det.threshold_,
        "image_size": det.image_size,
        "channels": det.channels,
        "score_rule": det.score_rule_,
        "validation": det.validation_,
        "map_scale": map_scale,
        "cost": cost,
        "hyperparameters": params,
    }


def make_app(
    det: Detector | Ensemble | Callable[[], Detector | Ensemble],
    max_batch: int = 32,
    max_wait_ms: float = 0.0,
    queue_size: int = 256,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    map_scale: float | None = None,
    decode_threads: int | None = None,
    model_threads: int | None = None,
):
    """The FastAPI application serving `det` (fitted), or the detector that `det()` loads, called in the model's
    thread (what `serve` does); see the module's docstring. By default the cores are split between the decoding
    threads and the model's OpenMP threads, half and half (at least one each)."""

    if decode_threads is None:
        decode_threads = max(1, cores() // 2)
    if model_threads is None:
        model_threads = max(1, cores() - decode_threads)
    limits = {"max_batch": max_batch, "queue_size": queue_size, "max_request_bytes": max_request_bytes}
    for name, value in {**limits, "decode_threads": decode_threads, "model_threads": model_threads}.items():
        if value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value}")
    if max_wait_ms < 0:
        raise ValueError(f"max_wait_ms: expected a number >= 0, got {max_wait_ms}")
    batcher = Batcher(
        (lambda: det) if isinstance(det, (Detector, Ensemble)) else det,
        max_batch,
        max_wait_ms,
        queue_size,
        model_threads,
    )
    det = batcher.det
    # decoding gets a bounded pool of its own, not asyncio's shared default one, so a flood of uploads cannot start
    # more decodes than that at once; each of its threads runs torch on one OpenMP thread (the module's docstring)
    decoder = ThreadPoolExecutor(
        decode_threads, thread_name_prefix="ganspect-decode", initializer=partial(limit_openmp, 1)
    )
    scale = map_scale if map_scale is not None else det.map_scale_
    card = model_card(det, scale)
    page = files("ganspect").joinpath("static/inspect.html").read_text(encoding="utf-8")

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()
        decoder.shutdown(wait=True)

    app = FastAPI(title="ganspect", version=__version__, lifespan=lifespan)
    app.state.detector = card["detector"]

    def decode(parts: list[tuple[str, bytes]]) -> tuple[list[torch.Tensor | str], int]:
        """Each part -> the image at the model's size, or the one-line reason it cannot be read; and the status
        the answer gets: 200, or 400 when some image cannot be read, 413 when some image is over the pixel limit
        (`ganspect --max-pixels`)."""
        out: list[torch.Tensor | str] = []
        status = 200
        for name, data in parts:
            try:
                image = read_image(Upload(data, name), det.channels, det.image_size)
                out.append(resize(image, det.image_size))
            except ImageTooLarge as err:
                out.append(str(err))
                status = 413
            except ValueError as err:
                out.append(str(err))
                status = status if status == 413 else 400
        return out, status

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def inspection_page() -> str:
        return page

    @app.get("/health")
    async def health() -> dict:
        queued = batcher.queue.qsize() if batcher.queue is not None else 0
        return {"status": "ok", "queued": queued, "batches": batcher.batches, "images": batcher.images}

    @app.get("/model")
    async def model() -> dict:
        return card

    @app.post("/score")
    async def score(request: Request, map: bool = False) -> JSONResponse:
        """Score the images of a multipart form (every file part), or the raw body as one image."""
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_request_bytes:
            raise HTTPException(413, f"request of {int(length):,} bytes is over the {max_request_bytes:,} allowed")
        body = bytearray()
        async for chunk in request.stream():  # counted as it comes: a missing or false length cannot bypass it
            body += chunk
            if len(body) > max_request_bytes:
                raise HTTPException(413, f"request body is over the {max_request_bytes:,} bytes allowed")
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            request._body = bytes(body)  # Starlette parses the form from the body already read (and bounded)
            form = await request.form(max_files=queue_size, max_part_size=max_request_bytes)
            parts = []
            for field, value in form.multi_items():
                if isinstance(value, str):
                    continue  # text fields carry no image
                label = f"part {field!r} ({value.filename})" if value.filename else f"part {field!r}"
                parts.append((label, await value.read()))
        else:
            parts = [("body", bytes(body))]
        if not parts or not any(data for _, data in parts):
            raise HTTPException(400, "no image: send image files as multipart parts, or one image as the body")
        decoded, status = await asyncio.get_running_loop().run_in_executor(decoder, decode, parts)
        good = [i for i, d in enumerate(decoded) if not isinstance(d, str)]
        if len(good) > queue_size:
            raise HTTPException(413, f"{len(good)} images in one request; at most {queue_size} are taken")
        try:
            results = await batcher.score([decoded[i] for i in good]) if good else []
        except Overloaded:
            return JSONResponse(
                {"detail": "the scoring queue is full; retry shortly"}, status_code=503, headers={"Retry-After": "1"}
            )
        by_index = dict(zip(good, results, strict=True))
        items = []
        for i, (name, _) in enumerate(parts):
            if i not in by_index:
                items.append({"name": name, "error": decoded[i]})
                continue
            value, anomaly_map = by_index[i]
            item = {
                "name": name,
                "score": value,
                "predicted": int(value > det.threshold_),
                "threshold": det.threshold_,
                "detector": card["detector"],
            }
            if map:
                item["anomaly_map_png"] = heat_png(anomaly_map, scale)
            items.append(item)
        # the good images are scored even when others fail: the status says that some did, the items say which
        return JSONResponse({"results": items}, status_code=status)

    return app


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving_process(model: str | Path, *flags: str, timeout: float = 120.0) -> Iterator[tuple[str, int]]:
    """`ganspect serve MODEL FLAGS` in a process of its own on a free loopback port while the block runs: yields
    (its URL, its pid) once /health answers, and stops it after. For tests and load benchmarks."""
    import httpx

    port = free_port()
    command = [sys.executable, "-m", "ganspect", "serve", str(model), "--port", str(port), *flags]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ganspect serve {model} did not come up (exit code {server.poll()})")
            time.sleep(0.1)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def serve(model: str | Path, host: str, port: int, device: str | None = None, **options) -> None:
    """Load the model and serve it until interrupted (uvicorn, one process)."""
    from .detector import load

    app = make_app(partial(load, model, device), **options)  # loaded in the model's thread (the module's docstring)
    started = time.strftime("%H:%M:%S")
    name = app.state.detector
    print(f"ganspect serve: {name} from {model} on http://{host}:{port}/ (since {started})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
