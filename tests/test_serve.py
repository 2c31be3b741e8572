"""The scoring service: the API's contract, batching, overload, bad input, and the page in a real browser."""

import base64
import dataclasses
import io
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image

import ganspect
from ganspect.data import ImageFiles

from .conftest import COOKIES, need

httpx = pytest.importorskip("httpx", reason="the [dev] extra is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the [serve] extra is not installed")
serve = pytest.importorskip("ganspect.serve", reason="the [serve] extra is not installed")


@contextmanager
def running(app):
    """The app on a real uvicorn server on a free loopback port, in a thread: real concurrent connections."""
    port = serve.free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


@pytest.fixture(scope="module")
def model(digits):
    return ganspect.OGNet(
        image_size=16, width=8, steps=6, rounds=3, old_round=1, phase_two_steps=4, threshold_images=32, device="cpu"
    ).fit(digits.train)


@pytest.fixture(scope="module")
def files(digits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for i, image in enumerate(digits.test[:12]):
        paths.append(folder / f"digit{i}.png")
        Image.fromarray(np.asarray(image)).save(paths[-1])
    return paths


def parts(paths):
    return [("file", (p.name, p.read_bytes(), "image/png")) for p in paths]


def test_scores_equal_the_detectors_on_the_same_files(model, files):
    with running(serve.make_app(model)) as url:
        answer = httpx.post(f"{url}/score", files=parts(files[:5]), params={"map": 1}).json()["results"]
        raw = httpx.post(f"{url}/score", content=files[0].read_bytes()).json()["results"][0]
        card = httpx.get(f"{url}/model").json()
    expected = model.score(ImageFiles(files[:5], model.channels, model.image_size))
    np.testing.assert_allclose([item["score"] for item in answer], expected, rtol=1e-6)
    assert raw["score"] == pytest.approx(float(expected[0]), rel=1e-6) and raw["name"] == "body"
    assert [item["predicted"] for item in answer] == [int(s > model.threshold_) for s in expected]
    heat = Image.open(io.BytesIO(base64.b64decode(answer[0]["anomaly_map_png"])))
    assert heat.size == (model.image_size, model.image_size)
    assert card["detector"] == "OGNet" and card["threshold"] == model.threshold_ and card["channels"] == 1
    assert card["image_size"] == 16 and "proxy" in card["validation"] and card["hyperparameters"]["width"] == 8


def test_an_ensemble_is_served_like_a_detector(model, digits, files):
    other = ganspect.OGNet(**{**dataclasses.asdict(model), "seed": 1}).fit(digits.train)
    ensemble = ganspect.Ensemble([model, other])
    with running(serve.make_app(ensemble)) as url:
        answer = httpx.post(f"{url}/score", files=parts(files[:4])).json()["results"]
        card = httpx.get(f"{url}/model").json()
    expected = ensemble.score(ImageFiles(files[:4], 1, 16))
    np.testing.assert_allclose([item["score"] for item in answer], expected, rtol=1e-6)
    assert card["detector"] == "Ensemble" and card["threshold"] == ensemble.threshold_
    assert [m["seed"] for m in card["hyperparameters"]["members"]] == [0, 1]
    assert card["cost"] == "2 models, each one forward pass per image"


def test_the_local_statistics_baseline_is_served_like_a_detector(digits, files):
    baseline = ganspect.LocalStatistics(image_size=16, bank_size=2000, device="cpu").fit(digits.train)
    with running(serve.make_app(baseline)) as url:
        answer = httpx.post(f"{url}/score", files=parts(files[:4]), params={"map": 1}).json()["results"]
        card = httpx.get(f"{url}/model").json()
    expected = baseline.score(ImageFiles(files[:4], 1, 16))
    np.testing.assert_allclose([item["score"] for item in answer], expected, rtol=1e-6)
    assert card["detector"] == "LocalStatistics" and "nearest-neighbour lookup per pixel" in card["cost"]


def test_the_model_card_counts_the_search_and_the_encoders_refinement(digits):
    refined = ganspect.AnoGAN(image_size=16, width=8, latent_dim=8, steps=2, rounds=1, mapping="encoder",
                              refine_steps=5, threshold_images=8, device="cpu").fit(digits.train)  # fmt: skip
    assert "5 latent-search steps per image" in serve.model_card(refined, 1.0)["cost"]
    refined.refine_steps = 0
    assert serve.model_card(refined, 1.0)["cost"] == "one forward pass per image"
    searching = ganspect.AnoGAN(search_steps=40)  # each method words its own cost; no fit needed to read it
    assert searching.scoring_cost.startswith("a latent search of 40 optimizer steps per image")


def test_a_model_loaded_in_the_scoring_thread_scores_the_same(model, files, tmp_path):
    """`ganspect serve` hands make_app a loader, called in the model's thread; the scores do not change."""
    model.save(tmp_path / "model.pt")
    loaded_in = []

    def load():
        loaded_in.append(threading.current_thread().name)
        return ganspect.load(tmp_path / "model.pt")

    with running(serve.make_app(load, model_threads=1)) as url:
        answer = httpx.post(f"{url}/score", files=parts(files[:3])).json()["results"]
    assert len(loaded_in) == 1 and loaded_in[0].startswith("ganspect-model")
    expected = model.score(ImageFiles(files[:3], model.channels, model.image_size))
    np.testing.assert_allclose([item["score"] for item in answer], expected, rtol=1e-6)


def test_each_service_thread_keeps_its_own_openmp_limit():
    """The decoders' limit of one OpenMP thread is theirs alone: the thread that set it runs torch on one, and
    the other threads keep theirs (torch.set_num_threads would have changed the default for threads to come)."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)  # a default above one, whatever the machine, so that a limit of one shows
    try:
        with ThreadPoolExecutor(1, initializer=partial(serve.limit_openmp, 1)) as limited:
            assert limited.submit(torch.get_num_threads).result() == 1
        with ThreadPoolExecutor(1) as later:
            assert later.submit(torch.get_num_threads).result() == 3
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_concurrent_requests_share_batches_and_keep_their_own_scores(model, files):
    """Twelve one-image requests at once, with a wait long enough to batch them: fewer batches than requests,
    and every score equal to the image scored alone."""
    with running(serve.make_app(model, max_wait_ms=200)) as url:
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(lambda p: httpx.post(f"{url}/score", files=parts([p]), timeout=30), files))
        health = httpx.get(f"{url}/health").json()
    alone = [float(model.score(ImageFiles([p], 1, model.image_size))[0]) for p in files]
    assert [a.json()["results"][0]["score"] for a in answers] == pytest.approx(alone, rel=1e-6)
    assert health["images"] == 12 and health["batches"] < 12


def test_overload_is_answered_503_then_recovered_from(model, files):
    slow = type(model).from_checkpoint(model.to_checkpoint(), device="cpu")
    score_and_map = slow.score_and_map
    slow.score_and_map = lambda images: (time.sleep(0.3), score_and_map(images))[1]  # a model busy for a while
    with running(serve.make_app(slow, max_batch=1, queue_size=2)) as url:
        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda p: httpx.post(f"{url}/score", files=parts([p]), timeout=60), files[:10]))
        codes = [a.status_code for a in answers]
        assert 503 in codes and 200 in codes and set(codes) == {200, 503}
        assert all(a.headers["retry-after"] == "1" for a in answers if a.status_code == 503)
        after = httpx.post(f"{url}/score", files=parts(files[:1]), timeout=60)  # the backlog drained, it serves again
        assert after.status_code == 200 and httpx.get(f"{url}/health").json()["queued"] == 0


def test_a_bad_image_is_400_named_and_the_others_are_scored(model, files):
    with running(serve.make_app(model)) as url:
        body = parts(files[:1]) + [("file", ("broken.png", b"not an image", "image/png"))] + parts(files[1:2])
        answer = httpx.post(f"{url}/score", files=body)
        empty = httpx.post(f"{url}/score", content=b"")
        garbage = httpx.post(f"{url}/score", content=b"\x89PNG garbage")
        still = httpx.post(f"{url}/score", files=parts(files[:1]))  # nothing a client sent broke the worker
    results = answer.json()["results"]
    assert answer.status_code == 400 and [("score" in r) for r in results] == [True, False, True]
    assert "part 'file' (broken.png)" in results[1]["error"] and "cannot read it as an image" in results[1]["error"]
    expected = model.score(ImageFiles(files[:2], 1, model.image_size))
    assert [results[0]["score"], results[2]["score"]] == pytest.approx(expected.tolist(), rel=1e-6)
    assert empty.status_code == 400 and "no image" in empty.json()["detail"]
    assert garbage.status_code == 400 and "body: cannot read" in garbage.json()["results"][0]["error"]
    assert still.status_code == 200


def test_too_large_requests_and_images_are_413(model, files, tmp_path, monkeypatch):
    noise = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 120), np.uint8)).save(noise, format="PNG")
    monkeypatch.setattr(ganspect.data, "MAX_PIXELS", 100 * 100)  # what `ganspect --max-pixels 10000 serve` sets
    with running(serve.make_app(model, max_request_bytes=20_000)) as url:
        too_long = httpx.post(f"{url}/score", content=b"x" * 30_000)
        many = httpx.post(f"{url}/score", files=[("file", ("n.png", noise.getvalue(), "image/png"))] * 2)
        too_big = httpx.post(f"{url}/score", files=parts(files[:1]) + [("file", ("n.png", noise.getvalue()))])
        # a chunked multipart body carries no length: it is counted as it arrives
        chunks = (b"--x\r\n" + b"y" * 5000 for _ in range(6))
        multipart = {"content-type": "multipart/form-data; boundary=x"}
        chunked = httpx.post(f"{url}/score", content=chunks, headers=multipart)
    assert len(noise.getvalue()) > 10_000  # so two of them are over the request limit
    assert too_long.status_code == 413 and "20,000" in too_long.json()["detail"]
    assert many.status_code == 413 and chunked.status_code == 413
    assert too_big.status_code == 413
    results = too_big.json()["results"]
    assert "score" in results[0] and "120x120 is over the 10,000 pixels" in results[1]["error"]


@pytest.fixture(scope="module")
def cookie_model(tmp_path_factory):
    data = need(COOKIES)
    path = tmp_path_factory.mktemp("served") / "cookies.pt"
    det = ganspect.OGNet(image_size=32, width=8, channels=3, steps=4, rounds=2, old_round=1, phase_two_steps=3,
                         threshold_images=8, device="cpu")  # fmt: skip
    det.fit(ImageFiles(ganspect.data.MVTecFolder(data).train_paths(), 3, 32)).save(path)
    return path


def test_the_page_in_a_real_browser(cookie_model):
    """`ganspect serve` in its own process; headless Chromium uploads a good and a cracked cookie through the page;
    the scores shown equal the API's, the cracked one is judged as the API judges it, and heat maps are drawn."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    good = sorted((COOKIES / "test" / "good").iterdir())[0]
    cracked = sorted((COOKIES / "test" / "crack").iterdir())[0]
    with serve.serving_process(cookie_model) as (url, _):
        api = {p.name: httpx.post(f"{url}/score", content=p.read_bytes()).json()["results"][0] for p in (good, cracked)}
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            )
            page = browser.new_page()
            page.goto(url)
            page.set_input_files("#pick", [str(good), str(cracked)])
            page.wait_for_function("document.querySelectorAll('.result[data-score]').length === 2", timeout=30_000)
            shown = page.eval_on_selector_all(
                ".result",
                """cards => cards.map(c => ({name: c.dataset.name, score: Number(c.dataset.score),
                       flagged: c.classList.contains('flagged'),
                       heat: c.querySelector('img.heat').naturalWidth}))""",
            )
            page.screenshot(path=str(cookie_model.with_name("page.png")))
            browser.close()
    assert sorted(s["name"] for s in shown) == sorted(api)
    for card in shown:
        assert card["score"] == pytest.approx(api[card["name"]]["score"], rel=1e-6)
        assert card["flagged"] == bool(api[card["name"]]["predicted"])
        assert card["heat"] == 32  # the heat map was decoded and drawn at the model's size


@pytest.mark.parametrize(
    "option, value",
    [("max_batch", 0), ("queue_size", 0), ("decode_threads", 0), ("model_threads", 0), ("max_wait_ms", -1)],
)
def test_bad_service_options_name_themselves(model, option, value):
    with pytest.raises(ValueError, match=f"^{option}: expected"):
        serve.make_app(model, **{option: value})
