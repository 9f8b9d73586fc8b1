"""What a learner and a lecturer see in a real browser (headless Chromium, Playwright).

- Every lesson notebook opened in JupyterLab and run with *Run > Run All Cells*: no
  error output (read from the saved .ipynb), every figure rendered, the lesson's widget
  rendered and responding (a slider moved with the keyboard changes its image or text),
  a screenshot saved to ``build/screenshots/NN_name.png``.
- One slide deck and the static site's pages opened from files with every network
  request blocked: reveal.js starts, MathJax typesets the formulas, nothing fails to load.

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


def _open_offline(browser, path: Path) -> tuple[Page, list[str]]:
    page = browser.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    page.on("pageerror", lambda e: failed.append(f"JavaScript error: {e}"))
    page.goto(path.as_uri())
    return page, failed


_MATH_JS = """() => ({
  typeset: document.querySelectorAll('.MathJax_CHTML, .MathJax_Display, mjx-container').length,
  errors: document.querySelectorAll('.MathJax_Error, merror').length,
  pending: document.querySelectorAll('script[type^="math/tex"]:not([id])').length,
})"""


_CURRENT_SLIDE_JS = "() => [...document.querySelectorAll('section.present')].pop().textContent"


def _wait_for_math(page: Page) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        math = page.evaluate(_MATH_JS)
        done = page.evaluate(
            "() => !!(window.MathJax && MathJax.Hub && MathJax.Hub.queue && "
            "MathJax.Hub.queue.pending === 0 && MathJax.isReady)"
        )
        if done and math["typeset"] > 0:
            return math
        page.wait_for_timeout(200)
    raise AssertionError(f"MathJax did not typeset the page: {page.evaluate(_MATH_JS)}")


@pytest.fixture(scope="module")
def site(built_site):
    """The first lesson's deck and page, and the pages' index (built in conftest.py)."""
    out, decks, pages = built_site
    return decks[0], pages[0], out / "html" / "index.html"


def test_slide_deck_renders_offline(browser, site):
    deck, _, _ = site
    page, failed = _open_offline(browser, deck)
    try:
        expect(page.locator(".reveal.ready")).to_have_count(1)
        math = _wait_for_math(page)
        assert math["errors"] == 0, f"{math['errors']} formulas failed to typeset"
        first = page.evaluate(_CURRENT_SLIDE_JS)
        page.keyboard.press("Space")  # next slide or sub-slide
        page.wait_for_timeout(300)
        second = page.evaluate(_CURRENT_SLIDE_JS)
        assert first != second, "the deck does not move to the next slide"
        assert page.locator(".reveal img").count() > 0, "no figure in the deck"
        # The theme's capitals would turn "γ, β, ε" in a heading into "Γ, Β, Ε".
        transform = page.evaluate(
            "() => getComputedStyle(document.querySelector('.reveal .slides h1')).textTransform"
        )
        assert transform == "none", f"slide headings are displayed with text-transform {transform}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.keyboard.press("Home")
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"{deck.name}.png"))
        assert not failed, f"failed to load: {failed}"
    finally:
        page.close()
    assert not browser.outside, f"requests to the outside world: {browser.outside[:5]}"


def test_site_pages_render_offline(browser, site):
    _, lesson_page, index = site
    for path in (lesson_page, index):
        page, failed = _open_offline(browser, path)
        try:
            if path == lesson_page:
                math = _wait_for_math(page)
                assert math["errors"] == 0, f"{math['errors']} formulas failed to typeset"
                images = page.locator(".jp-RenderedImage img")
                assert images.count() > 0, "no figure on the page"
                broken = images.evaluate_all(
                    "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length"
                )
                assert broken == 0, f"{broken} figures did not render"
                nav = page.locator("nav.course-nav a", has_text="All lessons")
                assert nav.count() == 2, "navigation bar missing (top and bottom)"
            else:
                links = page.locator("ol.lessons a")
                assert links.count() >= 1
                page.wait_for_load_state("load")
            assert not failed, f"failed to load: {failed}"
        finally:
            page.close()
    assert not browser.outside, f"requests to the outside world: {browser.outside[:5]}"
