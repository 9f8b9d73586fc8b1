"""What a learner and a lecturer see in a real browser (headless Chromium, Playwright).

- Every lesson notebook opened in JupyterLab and run with *Run > Run All Cells*: no
  error output (read from the saved .ipynb), every figure rendered, the lesson's widget
  rendered and responding (a slider moved with the keyboard changes its image or text),
  a screenshot saved to ``build/screenshots/NN_name.png``.
- Every deck and every page of the site opened from files with every network request
  blocked (decks at 1280 x 720): formulas typeset, nothing fails to load, rich text
  intact, answers folded until clicked, each static widget's controls moved (the picture
  changes); the site's search finds "running mean" in lesson 05, dark mode switches.
- Every deck stepped through slide by slide and fragment by fragment at 1280 x 720:
  nothing overflows, no fragment lands below the screen, speaker notes present. Figures
  readable and described, and short slides: the lessons listed in SLIDE_LAYER_PENDING
  still fail that part.
- Speaker notes (S) from a file and over http, math in them shown once; a PDF handout.

JupyterLab runs once for the module on 127.0.0.1 (free port, token, its own settings,
workspace, runtime and config folders) on a COPY of the notebooks in a temporary folder,
so the repository is never modified. The browser reaches nothing but that server.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the ``playwright`` Python
package. Without them the tests skip, unless ``COURSE_REQUIRE_BROWSER=1`` (set by
``.ci/run``), where they fail.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from course_lib.lessons import LESSONS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOTS = ROOT / "build" / "screenshots"
REQUIRED = os.environ.get("COURSE_REQUIRE_BROWSER") == "1"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
RUN_ALL_TIMEOUT = 180  # s, one notebook (they take < 30 s in a plain kernel)


def _unavailable() -> str | None:
    if CHROMIUM is None:
        return "Chromium is not installed (Debian: apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright Python package is not installed"
    return None


_REASON = _unavailable()
if _REASON is not None:
    if REQUIRED:
        pytest.fail(f"COURSE_REQUIRE_BROWSER=1 but {_REASON}", pytrace=False)
    pytest.skip(f"browser tests skipped: {_REASON}", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

# --------------------------------------------------------------------- fixtures


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


class Lab:
    def __init__(self, base: str, token: str, root: Path) -> None:
        self.base, self.token, self.root = base, token, root

    def api(self, path: str):
        return _get_json(f"{self.base}/api/{path}?token={self.token}")

    def shutdown_kernels(self) -> None:
        """Stop every kernel, so that lessons do not pile up kernels."""
        for kernel in self.api("kernels"):
            url = f"{self.base}/api/kernels/{kernel['id']}?token={self.token}"
            urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=30)


@contextlib.contextmanager
def _serve_lab(top: Path, locale: str | None = None):
    """JupyterLab serving a copy of the course (notebooks/ and assets/) from ``top``, in
    the interface language ``locale`` (a language pack's, e.g. "zh_CN"; default English)."""
    root = top / "course"
    root.mkdir()
    shutil.copytree(NOTEBOOKS, root / "notebooks", ignore=shutil.ignore_patterns(".*"))
    if (ROOT / "assets").is_dir():
        shutil.copytree(ROOT / "assets", root / "assets")
    settings = top / "settings"
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    # Every cell stays in the page (no virtual scrolling), so all outputs can be checked.
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    # No pop-up asking about news over the notebook.
    notification = (
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    if locale:  # as `make lab-zh` sets it
        language = settings / "@jupyterlab" / "translation-extension" / "plugin.jupyterlab-settings"
        language.parent.mkdir(parents=True)
        language.write_text(json.dumps({"locale": locale}))
    env = dict(os.environ)  # kernel settings (inline figures, hash seed): conftest.py
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(top / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(top / "runtime"),
        JUPYTER_CONFIG_DIR=str(top / "config"),
    )
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (top / "server.log").open("w")
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    server = Lab(base, token, root)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(top / 'server.log').read_text()[-2000:]}")
            try:
                server.api("status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not answer within 90 s")
                time.sleep(0.3)
        yield server
    finally:
        try:
            request = urllib.request.Request(
                f"{base}/api/shutdown?token={token}", method="POST", data=b""
            )
            urllib.request.urlopen(request, timeout=10).close()
            proc.wait(timeout=20)
        except Exception:
            pass
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a copy of the course, English interface."""
    with _serve_lab(tmp_path_factory.mktemp("lab")) as server:
        yield server


LOCAL = ("file:", "data:", "blob:", "about:", "http://127.0.0.1:", "ws://127.0.0.1:")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A Chromium context that can reach only 127.0.0.1 and local files: everything else
    goes to a proxy address where nothing listens, so it fails (and is recorded). A proxy
    rather than Playwright routing: routed requests wait for the Python side to dispatch
    them, which stalls the page while the test sleeps."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
            proxy={"server": f"http://127.0.0.1:{_free_port()}", "bypass": "127.0.0.1"},
        )
        context.outside = []
        context.on(
            "request",
            lambda r: None if r.url.startswith(LOCAL) else context.outside.append(r.url),
        )
        expect.set_options(timeout=30_000)
        yield context
        context.close()


# --------------------------------------------------------------------- helpers

_STATE_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const bar = document.querySelector('#jp-main-statusbar');
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
      .map(e => e.textContent.trim());
  return {
    indicator: indicator ? indicator.getAttribute('data-status') : null,
    statusbar: bar ? bar.textContent : '',
    busy: prompts.filter(p => p.includes('*')).length,
    numbered: prompts.filter(p => /\\[\\d+\\]/.test(p)).length,
  };
}"""


def _kernels_idle(lab: Lab) -> bool:
    try:
        kernels = lab.api("kernels")
    except OSError:  # the server answers 500 while a kernel starts
        return False
    return bool(kernels) and all(k["execution_state"] == "idle" for k in kernels)


def _wait_until_done(
    page: Page, lab: Lab, code_cells: int, timeout: float, idle: str = "| Idle"
) -> dict:
    """Wait until every code cell is numbered and the kernel is idle by every signal
    (toolbar, status bar, server), all holding for 1 s. idle: the status bar's word for
    it in the interface's language ("| 空闲" in Chinese)."""
    deadline = time.monotonic() + timeout
    since = None
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(_STATE_JS)
        ok = (
            state is not None
            and state["indicator"] == "idle"
            and idle in state["statusbar"]
            and state["busy"] == 0
            and state["numbered"] >= code_cells
            and _kernels_idle(lab)
        )
        if ok:
            since = since or time.monotonic()
            if time.monotonic() - since >= 1.0:
                return state
        else:
            since = None
        page.wait_for_timeout(250)
    raise AssertionError(f"notebook did not finish running within {timeout:.0f} s: {state}")


def _menu(page: Page, menu: str, item: str) -> None:
    page.locator("#jp-menu-panel").get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=re.compile(rf"^{re.escape(item)}")).first.click()


def _save(page: Page, path: Path, timeout: float = 90) -> None:
    """File > Save Notebook; wait until the file is rewritten (the server keeps its mtime,
    its ctime changes) and the status bar says so. It can take seconds on a busy machine."""
    written = path.stat().st_ctime_ns
    _menu(page, "File", "Save Notebook")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            path.stat().st_ctime_ns != written
            and "Saving completed" in (page.evaluate(_STATE_JS)["statusbar"])
        ):
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"{path.name} was not saved within {timeout:.0f} s")


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def _image_outputs(cell: dict) -> int:
    return sum(
        1
        for out in cell.get("outputs", [])
        if any(mime.startswith("image/") for mime in out.get("data", {}))
    )


def _widget_state(page: Page, cell) -> list[str]:
    """What the widget shows: image sources and HTML texts inside the cell's output."""
    return cell.evaluate(
        """c => [...c.querySelectorAll('.jp-OutputArea img, .widget-html-content')]
                .map(e => e.tagName === 'IMG' ? e.src : e.innerHTML)"""
    )


# --------------------------------------------------------------------- lessons


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.notebook)
def test_lesson_runs_in_jupyterlab(lab: Lab, browser, lesson):
    if lesson.skip_reason():  # an optional package is missing (lesson 07: PyTorch)
        pytest.skip(lesson.skip_reason())
    source = lab.root / "notebooks" / f"{lesson.notebook}.ipynb"
    assert source.exists(), f"{source.name} is missing"
    stored = json.loads(source.read_text(encoding="utf-8"))
    widget_cells = [
        i for i, c in enumerate(stored["cells"]) if "widget" in c["metadata"].get("tags", [])
    ]
    assert widget_cells, "no cell tagged 'widget' (the lesson's live widget)"
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{lab.base}/lab/tree/notebooks/{source.name}?reset&token={lab.token}")
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        expect(notebook).to_be_visible(timeout=60_000)
        _wait_until_done(page, lab, 0, 60)  # the kernel has started
        # Start from a blank notebook, so that everything checked below comes from this run.
        _menu(page, "Edit", "Clear Outputs of All Cells")
        expect(notebook.locator(".jp-OutputArea-output")).to_have_count(0)
        assert page.evaluate(_STATE_JS)["numbered"] == 0, "execution counts not cleared"
        start = time.monotonic()
        _menu(page, "Run", "Run All Cells")
        _wait_until_done(page, lab, len(_code_cells(stored)), RUN_ALL_TIMEOUT)
        took = time.monotonic() - start

        # Figures: every image output of a non-widget cell is in the page and decoded.
        cells = notebook.locator(".jp-Cell")
        assert cells.count() == len(stored["cells"])
        expected = sum(
            _image_outputs(c) for i, c in enumerate(stored["cells"]) if i not in widget_cells
        )
        images = notebook.locator(".jp-RenderedImage img")
        assert images.count() >= expected, f"{images.count()} figures shown, {expected} stored"
        broken = images.evaluate_all(
            "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length"
        )
        assert broken == 0, f"{broken} figures did not render"

        # The widget: rendered, and a slider moved with the keyboard changes what it shows.
        cell = cells.nth(widget_cells[0])
        slider = cell.locator(".widget-slider").first
        expect(slider).to_be_visible()
        cell.scroll_into_view_if_needed()
        before = _widget_state(page, cell)
        assert before, "the widget shows no image and no text"
        handle = cell.locator(".noUi-handle").first
        handle.focus()
        changed = False
        for key in ("ArrowRight", "ArrowLeft", "ArrowLeft"):
            handle.press(key)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and _widget_state(page, cell) == before:
                page.wait_for_timeout(100)
            if _widget_state(page, cell) != before:
                changed = True
                break
        assert changed, "moving the slider did not change the widget's image or text"
        page.wait_for_timeout(500)  # let the redraw settle for the picture
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{lesson.notebook}.png"))

        # Errors: read them from the saved notebook (stderr and errors look alike in the page).
        _save(page, source)
        saved = json.loads(source.read_text(encoding="utf-8"))
        failures = [
            f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
            for i, c in enumerate(saved["cells"])
            for out in c.get("outputs", [])
            if out["output_type"] == "error"
        ]
        assert not failures, "error outputs:\n" + "\n".join(failures)
        counts = [c["execution_count"] for c in _code_cells(saved)]
        assert counts == list(range(1, len(counts) + 1)), f"not run in order once: {counts}"
        saved_images = sum(
            _image_outputs(c) for i, c in enumerate(saved["cells"]) if i not in widget_cells
        )
        assert saved_images == expected, f"{saved_images} figures after the run, {expected} stored"
        assert not errors, f"JavaScript errors in the page: {errors}"
        print(f"{lesson.notebook}: ran in {took:.1f} s in the browser")
    finally:
        page.close()
        lab.shutdown_kernels()
    assert not browser.outside, f"requests to the outside world: {browser.outside[:5]}"


# --------------------------------------------------------------------- the Chinese edition
ZH_LESSON = "03_batch_norm_formulas"  # short; figures, formulas, checker feedback
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def lab_zh(tmp_path_factory):
    """JupyterLab with its Chinese interface (the zh-CN language pack), as `make lab-zh`."""
    with _serve_lab(tmp_path_factory.mktemp("lab-zh"), locale="zh_CN") as server:
        yield server


def _font_coverage() -> list[tuple[int, int]]:
    """The code points some installed font can draw (fontconfig's charsets, the fonts
    Chromium falls back on), as sorted ranges."""
    out = subprocess.run(
        ["fc-list", "--format=%{charset}\\n"], capture_output=True, text=True, check=True
    ).stdout
    ranges = set()
    for line in out.split():
        lo, _, hi = line.partition("-")
        ranges.add((int(lo, 16), int(hi or lo, 16)))
    return sorted(ranges)


def _drawable(char: str, ranges: list[tuple[int, int]]) -> bool:
    code = ord(char)
    return char.isspace() or any(lo <= code <= hi for lo, hi in ranges)


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="fontconfig's fc-list is missing")
def test_chinese_lesson_in_jupyterlab_draws_every_character(lab_zh: Lab, browser):
    """A Chinese lesson in JupyterLab's Chinese interface, run with the Chinese menus:
    the checkers answer in Chinese, every character of the page has a font (no boxes),
    the Chinese text is drawn with the CJK font; a screenshot for the eye."""
    source = lab_zh.root / "notebooks" / "zh_CN" / f"{ZH_LESSON}.ipynb"
    assert source.exists(), f"notebooks/zh_CN/{source.name} is missing: run `make zh`"
    stored = json.loads(source.read_text(encoding="utf-8"))
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(
            f"{lab_zh.base}/lab/tree/notebooks/zh_CN/{source.name}?reset&token={lab_zh.token}"
        )
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        expect(notebook).to_be_visible(timeout=60_000)
        _wait_until_done(page, lab_zh, 0, 60, idle="| 空闲")
        menus = page.locator("#jp-menu-panel").inner_text()
        assert "文件" in menus and "运行" in menus, f"the interface is not Chinese: {menus!r}"
        _menu(page, "编辑", "清除所有单元格的输出")
        expect(notebook.locator(".jp-OutputArea-output")).to_have_count(0)
        _menu(page, "运行", "运行所有单元格")
        _wait_until_done(page, lab_zh, len(_code_cells(stored)), RUN_ALL_TIMEOUT, idle="| 空闲")
        text = notebook.inner_text()
        assert re.search(r"全部 \d+ 项检查通过", text), "no checker feedback in Chinese"
        assert len(CJK.findall(text)) > 1000, "the lesson's text is not Chinese"

        ranges = _font_coverage()
        page_text = page.evaluate("() => document.body.innerText")
        missing = sorted({c for c in page_text if not _drawable(c, ranges)})
        assert not missing, f"characters no installed font can draw: {missing[:20]}"

        # The fonts Chromium drew a Chinese paragraph with (DevTools protocol).
        found = page.evaluate(
            """() => {
              const p = [...document.querySelectorAll('.jp-RenderedMarkdown p')]
                  .find(e => /[\u4e00-\u9fff]/.test(e.textContent));
              if (!p) return false;
              p.setAttribute('data-zh-probe', '1');
              return true;
            }"""
        )
        assert found, "no Chinese paragraph in the rendered markdown"
        cdp = page.context.new_cdp_session(page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        probe = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "[data-zh-probe]"})
        # the fonts used for the paragraph's own text nodes
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": probe["nodeId"]})["fonts"]
        cjk = [f for f in fonts if "CJK" in f["familyName"] and f["glyphCount"] > 0]
        assert cjk, f"the Chinese text was not drawn with a CJK font: {fonts}"

        # The picture: a checker's feedback with the text and a figure around it.
        feedback = notebook.locator(".jp-OutputArea-output", has_text="项检查通过").first
        feedback.scroll_into_view_if_needed()
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(500)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"zh_CN_{ZH_LESSON}.png"))
        assert not errors, f"JavaScript errors in the page: {errors}"
    finally:
        page.close()
        lab_zh.shutdown_kernels()
    assert not browser.outside, f"requests to the outside world: {browser.outside[:5]}"


# --------------------------------------------------------------------- slides and pages
#
# Decks and pages are opened from files, with the network cut (the proxy above), at the
# projector's size for the decks: 1280 x 720. What a deck must do for every lesson now
# (the builder's part) is tested apart from what the lessons' slide layer must do
# (phase 2 of issue 19: content that fits, speaker notes, readable figures, alt text).

# Lessons whose figures are not laid out for the projector yet (shown with plt.show(): no
# alt text, no measured text size) or that keep a slide of more than MAX_WORDS words:
# their decks fail test_deck_figures_and_words until the lesson is reworked. A lesson
# that starts passing must leave this set. (Every deck must fit: test_deck_fits.)
SLIDE_LAYER_PENDING = {"01", "02", "03", "04", "05", "06", "07"}
MIN_FONT_PX = 14  # smallest readable text at 1280 x 720
MAX_WORDS = 70  # "about 60 words or fewer per slide", prose only (not code, math, notes)
DECK_SURVEY_JS = (Path(__file__).parent / "js" / "deck_survey.js").read_text(encoding="utf-8")
NBCONVERT_DEFAULT_ALT = "No description has been provided for this image"


def _open_offline(browser, path: Path | str, size=None) -> tuple[Page, list[str]]:
    page = browser.new_page()
    if size:
        page.set_viewport_size(size)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    page.on("pageerror", lambda e: failed.append(f"JavaScript error: {e}"))
    # (a generous limit: a page loads in about a second, much slower on a loaded machine)
    page.goto(path if isinstance(path, str) else path.as_uri(), timeout=120_000)
    return page, failed


def _wait_for_images(page: Page) -> None:
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=30_000)
    broken = page.evaluate(
        "[...document.images].filter(i => i.getAttribute('src') && !i.naturalWidth)"
        ".map(i => i.getAttribute('src').slice(0, 80))"
    )
    assert not broken, f"images that did not load: {broken}"


def _open_deck(browser, deck: Path) -> tuple[Page, list[str]]:
    page, failed = _open_offline(browser, deck, {"width": 1280, "height": 720})
    expect(page.locator(".reveal.ready")).to_have_count(1)
    page.wait_for_function(
        "document.documentElement.getAttribute('data-course-math') === 'ready'", timeout=60_000
    )
    _wait_for_images(page)
    return page, failed


def _math_errors(page: Page) -> dict:
    return page.evaluate(
        "() => ({typeset: document.querySelectorAll('mjx-container').length,"
        " errors: document.querySelectorAll('mjx-merror').length})"
    )


def _set_control(widget, i: int, control: dict, now: int, to: int) -> None:
    """Move control ``i`` of a static widget from stop ``now`` to stop ``to``, as a reader
    does: arrow keys on a slider, a choice in a drop-down."""
    element = widget.locator(f'[data-control="{i}"]')
    if control["kind"] == "range":
        element.focus()
        key = "ArrowRight" if to > now else "ArrowLeft"
        for _ in range(abs(to - now)):
            element.press(key)
    else:
        element.select_option(str(to))


def _move_each_control(page: Page, widget) -> int:
    """Move every control of a static widget, with the keyboard or the drop-down, to a stop
    whose picture differs from the one before; check that the image changes and loads, and
    that the widget reports the new state. A control of a grid pair that changes nothing
    on its own (lesson 06: the number of groups, under Batch Norm) is moved after its
    partner. Returns the number of controls moved."""
    data = json.loads(widget.locator("script.csw-data").text_content())
    controls, grid = data["controls"], data.get("grid") or []
    start = [c["default"] for c in controls]
    image = widget.locator("img.csw-image").first

    def frame(state: list[int]) -> str:
        return data["frames"][",".join(map(str, state))]["i"][0]

    def with_(state: list[int], i: int, k: int) -> list[int]:
        return state[:i] + [k] + state[i + 1 :]

    def show(state: list[int], before: str) -> None:
        expect(widget).to_have_attribute("data-state", ",".join(map(str, state)))
        page.wait_for_function(
            "([img, name]) => img.src.endsWith(name) && img.complete && img.naturalWidth > 0",
            arg=[image.element_handle(), frame(state)],
        )
        assert not image.get_attribute("src").endswith(before)
        assert image.get_attribute("alt").startswith(data["alt"] or "The widget")

    for i, control in enumerate(controls):
        # bases: the start, then (for a grid control) the partner moved to each stop
        partner = next((g for g in grid if g != i), None) if i in grid else None
        bases = [start]
        if partner is not None:
            bases += [
                with_(start, partner, k)
                for k in range(len(controls[partner]["readouts"]))
                if k != start[partner]
            ]
        stops = sorted(range(len(control["readouts"])), key=lambda k: abs(k - start[i]))
        found = next(
            ((base, k) for base in bases for k in stops if frame(with_(base, i, k)) != frame(base)),
            None,
        )
        assert found is not None, f"moving {control['label']!r} never changes the picture"
        base, target = found
        if base != start:  # the partner first
            _set_control(widget, partner, controls[partner], start[partner], base[partner])
            show(base, frame(start))
        _set_control(widget, i, control, start[i], target)
        show(with_(base, i, target), frame(base))
        # back to the start for the next control
        _set_control(widget, i, control, target, start[i])
        if base != start:
            _set_control(widget, partner, controls[partner], base[partner], start[partner])
        expect(widget).to_have_attribute("data-state", ",".join(map(str, start)))
    return len(controls)


@pytest.fixture(scope="module")
def site(built_site):
    """The decks and pages of every lesson (built in conftest.py): (folder, decks, pages)."""
    return built_site


def _lesson_of(path: Path):
    return next(x for x in LESSONS if path.name.startswith(x.notebook))


def _deck_problems(report: list[dict]) -> list[str]:
    """What the builder must get right on every slide of every deck, now."""
    problems = []
    for s in report:
        where = f"slide {s['h']}.{s['v']} {s['title'][:40]!r}"
        if s["midWordBreaks"]:
            problems.append(f"{where}: code broken inside a word: {s['midWordBreaks'][:2]}")
        if s["codeFontPx"] is not None and s["codeFontPx"] < MIN_FONT_PX:
            problems.append(f"{where}: code font {s['codeFontPx']:.1f} px")
        if (s["W"], s["H"]) != (1280, 720):
            problems.append(f"{where}: deck size {s['W']}x{s['H']}, not 16:9 1280x720")
    return problems


def _fit_problems(report: list[dict]) -> list[str]:
    """What every deck must get right (issue 19): every slide and every fragment fits the
    1280 x 720 screen, and the deck has speaker notes."""
    problems = []
    for s in report:
        where = f"slide {s['h']}.{s['v']} {s['title'][:40]!r}"
        if s["height"] > s["H"] + 1 or s["width"] > s["W"] + 1:
            problems.append(f"{where}: {s['width']}x{s['height']} px overflows {s['W']}x{s['H']}")
        if s["lostFragments"]:
            problems.append(f"{where}: fragments below the screen: {s['lostFragments'][:2]}")
    if not any(s["notes"] for s in report):
        problems.append("no speaker notes in the deck")
    return problems


def _slide_layer_problems(report: list[dict], page_alts: list[str]) -> list[str]:
    """The whole slide layer (issue 19): what fits (``_fit_problems``), plus short slides
    and readable figures with real alt text, on the slides and on the page."""
    problems = _fit_problems(report)
    for s in report:
        where = f"slide {s['h']}.{s['v']} {s['title'][:40]!r}"
        if s["words"] > MAX_WORDS:
            problems.append(f"{where}: {s['words']} words of prose (at most {MAX_WORDS})")
        for f in s["figures"]:
            if not f["alt"] or f["alt"] == NBCONVERT_DEFAULT_ALT:
                problems.append(f"{where}: a figure without alt text")
            if f["minFontPx"] is None:
                problems.append(f"{where}: a figure whose text size is unknown (use show())")
            elif f["minFontPx"] < MIN_FONT_PX:
                problems.append(f"{where}: figure text {f['minFontPx']:.1f} px")
    for alt in page_alts:
        if not alt or alt.startswith("_images/") or alt == NBCONVERT_DEFAULT_ALT:
            problems.append(f"a figure on the page without alt text ({alt!r})")
    return problems


def _page_alts(browser, page_path: Path) -> list[str]:
    page, _ = _open_offline(browser, page_path)
    try:
        return page.evaluate(
            "[...document.querySelectorAll('article.bd-article img')].map(i => i.alt)"
        )
    finally:
        page.close()


def _check_details(page: Page) -> int:
    """Every <details> starts folded with its content hidden, and opens on a click.
    (checkVisibility: Chromium lays out a closed <details>' content, hidden by
    content-visibility, so it keeps its client rectangles.)"""
    count = page.locator(".reveal .slides details").count()
    for k in range(count):
        details = page.locator(".reveal .slides details").nth(k)
        at = details.evaluate("d => Reveal.getIndices(d.closest('section'))")
        page.evaluate(f"Reveal.slide({at['h']}, {at['v'] or 0})")
        assert details.evaluate("d => !d.open"), "answers are not folded"
        hidden = details.evaluate(
            "d => [...d.children].filter(c => c.tagName !== 'SUMMARY')"
            ".every(c => !c.checkVisibility())"
        )
        assert hidden, "folded answers are visible"
        details.locator("summary").click()
        assert details.evaluate("d => d.open"), "a click does not open the answers"
        shown = details.evaluate(
            "d => [...d.children].filter(c => c.tagName !== 'SUMMARY')"
            ".some(c => c.checkVisibility())"
        )
        assert shown, "opened answers are not shown"
        details.locator("summary").click()
    return count


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.notebook)
def test_deck_presents_offline(browser, site, lesson):
    """A deck as a lecturer uses it at 1280 x 720: math typeset, 16:9, rich text intact,
    answers folded until clicked, code readable and never broken inside a word, and the
    static widget moving without a kernel (the arrow keys move the slider, not the deck)."""
    if lesson.skip_reason():  # no PyTorch: lesson 07's widget has a note, not frames
        pytest.skip(f"static widget not drawn: {lesson.skip_reason()}")
    out, _, _ = site
    deck = out / "slides" / f"{lesson.notebook}.slides.html"
    page, failed = _open_deck(browser, deck)
    try:
        math = _math_errors(page)
        assert math["typeset"] > 0 and math["errors"] == 0, math
        config = page.evaluate("({w: Reveal.getConfig().width, h: Reveal.getConfig().height})")
        assert config == {"w": 1280, "h": 720}
        report = _SURVEYS[deck] = page.evaluate(DECK_SURVEY_JS)
        assert len(report) >= 2
        problems = _deck_problems(report)
        assert not problems, "\n".join(problems)
        empty = page.evaluate(
            "[...document.querySelectorAll('.reveal .slides sup, .reveal .slides sub')]"
            ".filter(e => !e.textContent.trim()).length"
        )
        assert empty == 0, f"{empty} emptied sub/superscripts"
        _check_details(page)
        # the static widget: go to its slide, move every control
        widget = page.locator(".course-static-widget").first
        at = widget.evaluate("w => Reveal.getIndices(w.closest('section'))")
        page.evaluate(f"Reveal.slide({at['h']}, {at['v'] or 0})")
        assert _move_each_control(page, widget) >= 1
        now = page.evaluate("Reveal.getIndices()")
        assert (now["h"], now["v"]) == (at["h"], at["v"] or 0), "the keys moved the deck"
        # the next slide is a key press away
        first = page.evaluate("Reveal.getIndices()")
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(100)
        assert page.evaluate("Reveal.getIndices()") != first, "→ does not move the deck"
        assert not failed, f"failed to load: {failed}"
        if lesson.number == "01":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.evaluate("Reveal.slide(0, 0)")
            page.screenshot(path=str(SCREENSHOTS / f"{deck.name}.png"))
    finally:
        page.close()
    assert not browser.outside, f"requests to the outside world: {browser.outside[:5]}"


_SURVEYS: dict[Path, list[dict]] = {}  # deck -> its survey (stepping through a deck costs)


def _survey(browser, deck: Path) -> list[dict]:
    if deck not in _SURVEYS:
        page, _ = _open_deck(browser, deck)
        try:
            _SURVEYS[deck] = page.evaluate(DECK_SURVEY_JS)
        finally:
            page.close()
    return _SURVEYS[deck]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.notebook)
def test_deck_fits(browser, site, lesson):
    """Stepping through every slide and every fragment of the deck at 1280 x 720: nothing
    is taller or wider than the screen, no fragment appears below it, and the deck has
    speaker notes (the explanation a self-learner reads, out of the lecturer's slides)."""
    out, _, _ = site
    report = _survey(browser, out / "slides" / f"{lesson.notebook}.slides.html")
    assert len(report) >= 5
    problems = _fit_problems(report)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


def _slide_layer_param(lesson):
    marks = []
    if lesson.number in SLIDE_LAYER_PENDING:
        marks.append(pytest.mark.xfail(strict=True, reason="figures not laid out for slides"))
    return pytest.param(lesson, marks=marks, id=lesson.notebook)


@pytest.mark.parametrize("lesson", [_slide_layer_param(x) for x in LESSONS])
def test_deck_figures_and_words(browser, site, lesson):
    """Besides fitting: every figure has alt text (deck and page) and text of at least
    14 px on the slide, no slide carries more than about 60 words of prose."""
    out, _, _ = site
    deck = out / "slides" / f"{lesson.notebook}.slides.html"
    report = _survey(browser, deck)
    problems = _slide_layer_problems(report, _page_alts(browser, out / "html" / deck.name[:-12]))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


# --- the fixture lesson: a deck whose slide layer is done, and what it proves


@pytest.fixture(scope="module")
def fixture_deck(built_fixture):
    return built_fixture


def test_fixture_deck_passes_the_slide_layer_test(browser, fixture_deck):
    _, _, deck, page_path = fixture_deck
    page, failed = _open_deck(browser, deck)
    try:
        report = page.evaluate(DECK_SURVEY_JS)
        assert len(report) == 6
        assert not _deck_problems(report)
        assert not _slide_layer_problems(report, _page_alts(browser, page_path))
        _check_details(page)
        assert not failed
    finally:
        page.close()


def test_slide_layer_test_catches_what_does_not_fit(browser, fixture_deck):
    """The same measurement on the fixture deck after planting faults: a slide taller than
    the screen, a fragment below it, a figure with small text and no alt text."""
    _, _, deck, page_path = fixture_deck
    page, _ = _open_deck(browser, deck)
    try:
        page.evaluate(
            """() => {
            const slide = Reveal.getSlides()[1];
            const tall = document.createElement('div');
            tall.style.height = '900px';
            slide.appendChild(tall);
            const frag = document.createElement('p');
            frag.className = 'fragment';
            frag.textContent = 'planted fragment';
            slide.appendChild(frag);
            const img = document.querySelector('img[data-min-font-px]');
            img.setAttribute('data-min-font-px', '9');
            img.removeAttribute('alt');
            Reveal.sync();
        }"""
        )
        problems = _slide_layer_problems(page.evaluate(DECK_SURVEY_JS), [])
    finally:
        page.close()
    text = "\n".join(problems)
    assert "overflows 1280x720" in text and "planted fragment" in text
    assert "figure text" in text and "without alt text" in text


@pytest.mark.parametrize("how", ["file", "http"])
def test_speaker_notes_open_with_math_rendered_once(browser, fixture_deck, how):
    """S opens reveal.js's speaker view, from a file or from ``python -m http.server``;
    the notes' formulas arrive as MathML, shown once (not as TeX, not twice)."""
    import functools
    import http.server
    import threading

    _, _, deck, _ = fixture_deck
    server = None
    url = deck.as_uri()
    if how == "http":
        handler = functools.partial(
            http.server.SimpleHTTPRequestHandler, directory=str(deck.parent)
        )
        handler.log_message = lambda *a: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/{deck.name}"
    page, failed = _open_offline(browser, url, {"width": 1280, "height": 720})
    try:
        expect(page.locator(".reveal.ready")).to_have_count(1)
        page.wait_for_function(
            "document.documentElement.getAttribute('data-course-math') === 'ready'"
        )
        with page.expect_popup() as popup:
            page.keyboard.press("s")
        speaker = popup.value
        notes = speaker.locator(".speaker-controls-notes .value")
        expect(notes).to_contain_text("Open with the question of the day")
        assert notes.locator("math").count() == 2  # σ², and the display formula
        assert notes.locator("math[display='block']").count() == 1
        text = notes.text_content()
        assert "$" not in text and "\\frac" not in text, text
        assert notes.locator("mjx-container, script").count() == 0
        page.keyboard.press("ArrowRight")  # the speaker view follows the deck
        expect(notes).to_contain_text("weight of the new value")
        speaker.close()
        assert not failed, failed
    finally:
        page.close()
        if server is not None:
            server.shutdown()
    assert not browser.outside, f"requests to the outside world: {browser.outside[:5]}"


def test_slides_pdf(browser, fixture_deck, tmp_path):
    """``make slides-pdf``: one page per slide, fragments shown, printed offline."""
    import build_site

    _, _, deck, _ = fixture_deck
    (pdf,) = build_site.build_pdfs([deck], tmp_path, context=browser)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = max(int(n) for n in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data))
    assert pages == 6
    assert not browser.outside, f"requests to the outside world: {browser.outside[:5]}"


# --- the site


def _wait_for_site_math(page: Page) -> dict:
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("MathJax.startup.promise.then(() => true)")
    return _math_errors(page)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.notebook)
def test_site_page_offline(browser, site, lesson):
    """A lesson's page from a file, network cut: formulas typeset, figures shown, the
    lesson list beside it, an outline of the page, and the static widget moving."""
    if lesson.skip_reason():  # no PyTorch: lesson 07's widget has a note, not frames
        pytest.skip(f"static widget not drawn: {lesson.skip_reason()}")
    out, _, _ = site
    page, failed = _open_offline(browser, out / "html" / f"{lesson.notebook}.html")
    try:
        math = _wait_for_site_math(page)
        assert math["typeset"] > 0 and math["errors"] == 0, math
        _wait_for_images(page)
        assert page.locator("article.bd-article img").count() > 1
        nav = page.locator(".bd-sidebar-primary nav a")
        assert nav.count() >= len(LESSONS)
        assert page.locator(".bd-toc a").count() >= 2, "no outline of the page"
        widget = page.locator(".course-static-widget")
        expect(widget).to_have_count(1)
        widget.scroll_into_view_if_needed()
        assert _move_each_control(page, widget) >= 1
        if lesson.number == "01":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"site_{lesson.notebook}.png"))
        assert not failed, f"failed to load: {failed}"
    finally:
        page.close()
    assert not browser.outside, f"requests to the outside world: {browser.outside[:5]}"


def test_site_search_finds_running_mean_offline(browser, site):
    out, _, _ = site
    url = (out / "html" / "search.html").as_uri() + "?q=running+mean"
    page, failed = _open_offline(browser, url)
    try:
        results = page.locator("#search-results li a")
        expect(results.first).to_be_visible(timeout=30_000)
        hrefs = results.evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert any(h.startswith("05_batch_norm_at_test_time.html") for h in hrefs), hrefs
        assert not failed, failed
    finally:
        page.close()
    assert not browser.outside, f"requests to the outside world: {browser.outside[:5]}"


def test_site_dark_mode_and_home_page(browser, site):
    out, _, _ = site
    page, failed = _open_offline(browser, out / "html" / "index.html")
    try:
        links = page.locator("article.bd-article a[href$='.html']")
        assert links.count() == len(LESSONS)
        light = page.evaluate("getComputedStyle(document.body).backgroundColor")
        for mode, label in (("dark", "Dark"), ("light", "Light")):
            page.locator(".theme-switch-button").first.click()
            page.locator(".theme-change-button", has_text=label).first.click()
            expect(page.locator("html")).to_have_attribute("data-theme", mode)
            if mode == "dark":
                dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert dark != light, "dark mode does not change the page"
        assert not failed, failed
    finally:
        page.close()
    assert not browser.outside, f"requests to the outside world: {browser.outside[:5]}"


def test_site_marks_going_deeper_sections(browser, fixture_deck):
    _, _, _, page_path = fixture_deck
    page, failed = _open_offline(browser, page_path)
    try:
        section = page.locator("section.going-deeper")
        expect(section.locator(".going-deeper-note")).to_be_visible()
        width = section.evaluate("s => parseFloat(getComputedStyle(s).borderLeftWidth)")
        assert width >= 2, "the section is not marked"
        assert not failed, failed
    finally:
        page.close()
