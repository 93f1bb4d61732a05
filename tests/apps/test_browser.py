"""The web demo end to end, in headless Chromium driven by Selenium: draw with synthetic
pointer events (a real MNIST test digit replayed as strokes with the mouse, a "1" with a
finger), watch the bars update while drawing, check the answer, the image the network saw,
the Clear button, and a screenshot's pixels.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and the
``selenium`` package; skipped without them. No browser is ever downloaded.
"""

import io
import os

import numpy as np
import pytest

from neural_network import load_mnist

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,760",
    "--force-device-scale-factor=1",
]
PAD_SIDE = 280  # CSS pixels of the drawing pad; MNIST's 28 pixels are 10 pad pixels each
BEST_BAR_RGB = (0x1F, 0x6F, 0xEB)  # --best in style.css

for path in (CHROMIUM, CHROMEDRIVER):
    if not os.access(path, os.X_OK):
        pytest.skip(
            f"{path} is missing (apt-get install chromium chromium-driver)", allow_module_level=True
        )
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.actions import interaction  # noqa: E402
from selenium.webdriver.common.actions.action_builder import ActionBuilder  # noqa: E402
from selenium.webdriver.common.actions.mouse_button import MouseButton  # noqa: E402
from selenium.webdriver.common.actions.pointer_input import PointerInput  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as error:
        pytest.skip(f"Chromium would not start: {error.msg}")
    driver.set_page_load_timeout(20)
    driver.get(server.url)
    yield driver
    driver.quit()


def stroke_actions(driver, pad, strokes, *, kind=interaction.POINTER_MOUSE, ms_per_move=15):
    """One action chain that draws ``strokes``: lists of (x, y) pad points, each stroke
    pressed down at its first point, moved through the others, released at its end."""
    pointer = PointerInput(kind, "finger" if kind == interaction.POINTER_TOUCH else "mouse")
    actions = ActionBuilder(driver, mouse=pointer)

    def offset(point):  # WebDriver offsets are from the element's centre
        return round(point[0] - PAD_SIDE / 2), round(point[1] - PAD_SIDE / 2)

    for stroke in strokes:
        x, y = offset(stroke[0])
        pointer.create_pointer_move(duration=0, x=x, y=y, origin=pad)
        pointer.create_pointer_down(button=MouseButton.LEFT)
        for point in stroke[1:]:
            x, y = offset(point)
            pointer.create_pointer_move(duration=ms_per_move, x=x, y=y, origin=pad)
        pointer.create_pointer_up(button=MouseButton.LEFT)
    return actions


def digit_strokes(image):
    """A 28x28 digit as horizontal strokes over its bright runs, row by row, in pad pixels;
    each stroke is cut into short moves."""
    strokes = []
    scale = PAD_SIDE / 28
    for row, values in enumerate(image.reshape(28, 28) > 127):
        columns = np.flatnonzero(values)
        if not columns.size:
            continue
        runs = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)
        for run in runs:
            y = (row + 0.5) * scale
            xs = np.linspace((run[0] + 0.5) * scale, (run[-1] + 0.5) * scale, 2 + len(run) // 4)
            strokes.append([(float(x), y) for x in xs])
    return strokes


def wait_for_answers(driver, at_least, timeout=10):
    """Wait until the page has shown ``at_least`` answers and has no request pending."""

    def settled(_):
        body = driver.find_element(By.TAG_NAME, "body")
        answers = int(body.get_attribute("data-answers"))
        return answers >= at_least and body.get_attribute("data-pending") == "0" and answers

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(settled)
    except TimeoutException:
        pytest.fail(f"the page showed no answer; status: {status_text(driver)}")


def status_text(driver):
    return driver.find_element(By.ID, "status").text


def answers_count(driver):
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-answers"))


def bar_probabilities(driver):
    bars = driver.find_elements(By.CSS_SELECTOR, "#bars li")
    return [float(bar.get_attribute("data-p")) for bar in bars]


def shown_label(driver):
    return driver.find_element(By.ID, "label").text


def screen_box(driver, element_id):
    """The element's box in screenshot pixels: (left, top, right, bottom)."""
    box = driver.execute_script(
        "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
        "const s = window.devicePixelRatio;"
        "return [r.left * s, r.top * s, r.right * s, r.bottom * s];",
        element_id,
    )
    return tuple(round(v) for v in box)


def console_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_replayed_mnist_digit_is_recognised_live(browser, tmp_path):
    from PIL import Image

    _, (x_test, y_test) = load_mnist()
    index = 0
    image, label = x_test[index], int(y_test[index])
    pad = browser.find_element(By.ID, "pad")
    assert shown_label(browser) == "?"
    before = answers_count(browser)

    stroke_actions(browser, pad, digit_strokes(image)).perform()
    answers = wait_for_answers(browser, before + 1)
    assert answers - before >= 3  # the bars moved while the digit was being drawn
    probabilities = bar_probabilities(browser)
    assert len(probabilities) == 10 and sum(probabilities) == pytest.approx(1.0, abs=1e-4)
    assert int(np.argmax(probabilities)) == label
    assert shown_label(browser) == str(label)
    assert "best" in browser.find_elements(By.CSS_SELECTOR, "#bars li")[label].get_attribute(
        "class"
    )

    png = browser.get_screenshot_as_png()
    (tmp_path / "demo.png").write_bytes(png)
    assert len(png) > 10_000
    shot = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    width, height = browser.execute_script(
        "return [window.innerWidth * devicePixelRatio, window.innerHeight * devicePixelRatio]"
    )
    assert shot.shape[:2] == (height, width)

    left, top, right, bottom = screen_box(browser, "pad")
    pad_pixels = shot[top:bottom, left:right]
    ink = (pad_pixels.min(axis=2) > 200).mean()
    background = (pad_pixels.max(axis=2) < 30).mean()
    assert 0.05 < ink < 0.6 and background > 0.3, (ink, background)

    left, top, right, bottom = screen_box(browser, "seen")
    seen = shot[top:bottom, left:right]
    assert (seen.min(axis=2) > 200).mean() > 0.05  # the 28x28 input shows the digit

    fill = browser.find_elements(By.CSS_SELECTOR, "#bars li .fill")[label]
    left, top, right, bottom = screen_box_of(browser, fill)
    bar = shot[top + 1 : bottom - 1, left + 1 : right - 1].reshape(-1, 3)
    assert len(bar) > 100
    assert np.mean(np.abs(bar - BEST_BAR_RGB).max(axis=1) < 8) > 0.9  # drawn in --best blue
    track = fill.find_element(By.XPATH, "..")
    assert fill.size["width"] > 0.5 * track.size["width"]
    assert console_errors(browser) == []


def screen_box_of(driver, element):
    box = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); const s = window.devicePixelRatio;"
        "return [r.left * s, r.top * s, r.right * s, r.bottom * s];",
        element,
    )
    return tuple(round(v) for v in box)


def test_clear_then_a_finger_draws_a_one(browser):
    browser.find_element(By.ID, "clear").click()
    assert shown_label(browser) == "?"
    assert bar_probabilities(browser) == [0.0] * 10
    blank = browser.execute_script(
        "const c = document.getElementById('pad');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "return d.every((v, i) => i % 4 === 3 || v === 0);"
    )
    assert blank
    pad = browser.find_element(By.ID, "pad")
    before = answers_count(browser)
    browser.execute_script(
        "window.moves = 0; window.times = [];"
        "const pad = document.getElementById('pad');"
        "const note = e => { if (e.pointerType === 'touch') window.times.push(e.timeStamp); };"
        "pad.addEventListener('pointerdown', note); pad.addEventListener('pointerup', note);"
        "pad.addEventListener('pointermove', e => {"
        "  if (e.pointerType === 'touch') window.moves += 1; });"
    )
    line = [(140.0, 40.0 + 10 * k) for k in range(21)]  # a vertical stroke, top to bottom
    stroke_actions(browser, pad, [line], kind=interaction.POINTER_TOUCH, ms_per_move=30).perform()
    answers = wait_for_answers(browser, before + 1) - before
    moves, (down, up) = browser.execute_script("return [window.moves, window.times]")
    # Live: answers came while the finger moved. Throttled: requests start at least 100 ms
    # apart while drawing (one at the touch, one per 100 ms), plus one on release.
    assert moves >= 20
    assert 3 <= answers <= (up - down) / 100 + 2, (answers, moves, up - down)
    assert shown_label(browser) == "1"
    assert int(np.argmax(bar_probabilities(browser))) == 1
    assert console_errors(browser) == []
