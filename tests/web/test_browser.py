"""The search page in a real headless Chromium (Debian's package, driven by Playwright) against the real service:
type a query, see the hit cards, each card's skeleton moves between two screenshots 0.5 s apart, open a hit with the
keyboard, read its captions, download its BVH, page on, search by a dropped BVH and by the file input, and fit a
phone's width. Screenshots and the page's own timings land in build/test-artifacts/."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from motion_retrieval.data.bvh_write import smpl22_bvh
from motion_retrieval.data.load import read_file

CHROMIUM = Path(os.environ.get("MOTION_RETRIEVAL_CHROMIUM", "/usr/bin/chromium"))
# A fresh profile per run (launch_persistent_context's user_data_dir) and nothing that phones home.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
QUERY = "a person walks forward"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium; run it, or apt-get install "
                        "chromium")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set MOTION_RETRIEVAL_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the [dev] extra")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS, accept_downloads=True,
            viewport={"width": 1280, "height": 900}, device_scale_factor=1,
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture(scope="module")
def page(browser_context, web_stack):
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(web_stack.web.url + "/")
    yield page
    assert errors == [], f"JavaScript errors on the page: {errors}"
    page.close()


def figure_pixels(page, canvas) -> np.ndarray:
    """The canvas's stick-figure area as an (H, W, 3) array: the time label and progress bar cropped off, so a
    difference means the skeleton itself moved."""
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"))
    height = image.shape[0]
    return image[height // 8: height - 8]


def wait_for_results(page, expected_at_least: int = 1) -> None:
    page.wait_for_function(f"() => document.querySelectorAll('#results .card').length >= {expected_at_least}")


def test_a_text_search_shows_animated_hit_cards(page, web_stack):
    page.fill("#q", QUERY)
    page.press("#q", "Enter")
    wait_for_results(page, 12)
    cards = page.locator("#results .card")
    assert cards.count() == 12  # the page's default top_k; 13 takes in the corpus
    first = cards.nth(0)
    assert "score" in first.get_attribute("aria-label")
    names = [cards.nth(i).locator(".name").inner_text() for i in range(12)]
    assert len(set(names)) == 12  # one card per take

    visible = [i for i in range(12) if cards.nth(i).is_visible() and cards.nth(i).bounding_box()["y"] < 700]
    assert len(visible) >= 4
    for i in visible:
        page.wait_for_function(
            f"() => document.querySelectorAll('#results .card canvas')[{i}].dataset.state === 'playing'")
    canvases = [cards.nth(i).locator("canvas") for i in visible]
    before = [figure_pixels(page, c) for c in canvases]
    page.screenshot(path=str(ARTIFACTS / "web-results.png"))
    page.wait_for_timeout(500)
    after = [figure_pixels(page, c) for c in canvases]
    for i, (a, b) in enumerate(zip(before, after)):
        changed = int(np.any(a != b, axis=-1).sum())
        assert changed > 50, f"card {visible[i]}: its skeleton did not move in 0.5 s ({changed} pixels changed)"
        assert int(np.any(a != a[0, 0], axis=-1).sum()) > 200, f"card {visible[i]}: nothing drawn"

    timings = page.evaluate("window.mrTimings")
    assert timings["firstHits"] is not None and timings["firstPreview"] is not None
    (ARTIFACTS / "web-timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(f"first hits rendered {timings['firstHits']:.0f} ms after Enter, "
          f"first preview {timings['firstPreview']:.0f} ms")


def test_a_hit_opens_with_the_keyboard_and_downloads_its_bvh(page, web_stack, tmp_path):
    card = page.locator("#results .card").nth(0)
    card.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#detail")
    page.wait_for_function("() => document.querySelector('#detail').open")
    assert dialog.locator("#detail-title").inner_text() == card.locator(".name").inner_text()
    page.wait_for_function("() => document.querySelector('#detail-canvas') && "
                           "document.querySelectorAll('#detail-described li .score').length > 0")
    stored = {c for r in web_stack.records for c in r["captions"]}
    described = [t.rsplit(" (", 1)[0] for t in dialog.locator("#detail-described li").all_inner_texts()]
    assert described and all(text in stored for text in described)
    assert dialog.locator("#detail-captions li").count() >= 1
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "web-detail.png"))

    with page.expect_download() as caught:
        page.click("#dl-bvh")
    download = caught.value
    assert download.suggested_filename.endswith(".bvh")
    saved = tmp_path / download.suggested_filename
    download.save_as(str(saved))
    record = read_file(saved, compute_features=False)
    assert record.joints.shape[1:] == (22, 3) and record.num_frames > 10
    assert dialog.locator("#dl-source").is_hidden()  # the corpus came from .npy files: no source BVH

    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('#detail').open")
    assert page.evaluate("document.activeElement.classList.contains('card')")  # focus back on the card


def test_more_results_pages_on_without_duplicates(page):
    page.click("#more")
    wait_for_results(page, 13)
    ids = page.eval_on_selector_all("#results .card", "cards => cards.map(c => c.dataset.id)")
    assert len(ids) == 13 == len(set(ids))
    assert page.locator("#more").is_hidden()  # 13 takes: nothing more


def test_more_like_this(page):
    first = page.locator("#results .card").nth(0)
    first_id = first.get_attribute("data-id")
    first.click()
    page.wait_for_function("() => document.querySelector('#detail').open")
    page.click("#more-like-this")
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('motions like')")
    wait_for_results(page)
    ids = page.eval_on_selector_all("#results .card", "cards => cards.map(c => c.dataset.id)")
    assert ids and first_id not in ids


def test_dropping_a_bvh_searches_by_motion(page, web_stack):
    record = web_stack.records[5]
    data = smpl22_bvh(record["joints"], 20.0).encode()
    page.evaluate(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: "application/octet-stream"}));
            for (const type of ["dragenter", "dragover", "drop"]) {
              document.body.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true,
                                                               cancelable: true}));
            }
        }""",
        ["dropped.bvh", base64.b64encode(data).decode()],
    )
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('dropped.bvh')")
    wait_for_results(page)
    names = page.locator("#results .card .name").all_inner_texts()
    assert record["id"] in names[:3]  # the take written to BVH and read back finds itself
    assert page.locator("#drop-zone").is_hidden()
    page.screenshot(path=str(ARTIFACTS / "web-drop.png"))


def test_the_file_input_searches_by_motion(page, web_stack, tmp_path):
    record = web_stack.records[8]
    path = tmp_path / "picked.npy"
    np.save(path, record["joints"])
    page.set_input_files("#file-input", str(path))
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('picked.npy')")
    wait_for_results(page)
    assert page.locator("#results .card .name").first.inner_text() == record["id"]


def test_a_refused_file_says_why(page, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a motion")
    page.set_input_files("#file-input", str(path))
    page.wait_for_function("() => document.querySelector('#status').classList.contains('error')")
    assert "notes.txt" in page.locator("#status").inner_text()


def test_the_page_fits_a_phone(browser_context, web_stack):
    phone = browser_context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(web_stack.web.url + "/?q=" + QUERY.replace(" ", "+"))
    wait_for_results(phone, 12)
    phone.wait_for_function("() => document.querySelector('#results .card canvas').dataset.state === 'playing'")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = phone.locator("#results .card").first.bounding_box()
    assert box["width"] <= 390
    phone.screenshot(path=str(ARTIFACTS / "web-phone.png"))
    phone.close()


def test_keyboard_order_reaches_the_search_box_first(browser_context, web_stack):
    page = browser_context.new_page()
    page.goto(web_stack.web.url + "/")
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
    assert order[:4] == ["skip", "q", "search-button", "file-input"], order
    page.close()



def test_with_reduced_motion_a_figure_plays_only_while_hovered(browser_context, web_stack):
    page = browser_context.new_page()
    page.emulate_media(reduced_motion="reduce")
    page.goto(web_stack.web.url + "/?q=" + QUERY.replace(" ", "+"))
    wait_for_results(page, 12)
    page.wait_for_function("() => document.querySelector('#results .card canvas').dataset.state === 'playing'")
    canvas = page.locator("#results .card canvas").first
    page.mouse.move(5, 5)
    before = figure_pixels(page, canvas)
    page.wait_for_timeout(500)
    assert np.array_equal(before, figure_pixels(page, canvas)), "a still figure moved with reduced motion asked for"
    page.locator("#results .card").first.hover()
    hovered = figure_pixels(page, canvas)
    page.wait_for_timeout(500)
    assert int(np.any(hovered != figure_pixels(page, canvas), axis=-1).sum()) > 50, "the hovered figure did not play"
    page.close()
