"""A student in a real browser on the class hub (part of ``make classroom``).

Chromium (Debian's, driven by Playwright as in ``tests/test_browser.py``) opens the
hub's login page, logs in with the student's Unix password, lands in JupyterLab, opens
*Nbgrader > Assignment List* (the "Assignments" tab of nbgrader's JupyterLab
extension), fetches the released lesson, opens its notebook from the list, goes back
to the tab and submits. The browser reaches nothing but 127.0.0.1. Screenshots go to
``build/screenshots/classroom-*.png``.
"""

from __future__ import annotations

import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "build" / "screenshots"
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def student_submits(room, student: str, assignment: str) -> list[tuple[str, bool, str]]:
    """Log in, fetch, open and submit ``assignment`` as ``student``; the outcomes."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return [("Chromium is installed", False, "apt-get install chromium")]
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        return [("the playwright package is installed", False, "")]
    account = room.accounts[student]
    outcomes: list[tuple[str, bool, str]] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="classroom-chromium-")
    outside: list[str] = []
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile,
                executable_path=chromium,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1400, "height": 900},
                proxy={"server": f"http://127.0.0.1:{_free_port()}", "bypass": "127.0.0.1"},
            )
            context.on(
                "request",
                lambda r: (
                    None
                    if r.url.startswith(
                        ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")
                    )
                    else outside.append(r.url)
                ),
            )
            expect.set_options(timeout=60_000)
            page = context.new_page()
            try:
                page.goto(f"{room.base}/hub/login")
                page.fill("#username_input", student)
                page.fill("#password_input", account.password)
                page.click("#login_submit")
                page.wait_for_url(re.compile(rf"/user/{student}/lab"), timeout=120_000)
                expect(page.locator("#jp-main-dock-panel")).to_be_visible()
                outcomes.append(
                    ("logged in through the hub's login page", True, page.url.split("?")[0])
                )

                page.locator("#jp-menu-panel").get_by_role(
                    "menuitem", name="Nbgrader", exact=True
                ).click()
                page.get_by_role("menuitem", name="Assignment List").click()
                tab = page.locator("#nbgrader-assignment-list")
                expect(tab).to_be_visible()
                released = tab.locator("#released_assignments_list .list_item", has_text=assignment)
                expect(released).to_be_visible()
                page.screenshot(path=str(SCREENSHOTS / "classroom-assignments.png"))
                released.get_by_role("button", name="Fetch").click()
                fetched = tab.locator("#fetched_assignments_list .list_item", has_text=assignment)
                expect(fetched.first).to_be_visible()
                outcomes.append(("fetched the lesson from the Assignments tab", True, assignment))

                # Open the notebook from the list: the row expands to show its notebooks.
                fetched.first.locator("a", has_text=assignment).first.click()
                name = re.compile(rf"^\s*{re.escape(assignment)}\s*$")
                link = tab.locator("#fetched_assignments_list a").filter(has_text=name).last
                expect(link).to_be_visible()
                link.click()
                notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
                expect(notebook).to_be_visible()
                deadline = time.monotonic() + 60
                while (cells := notebook.locator(".jp-Cell").count()) < 3:
                    if time.monotonic() > deadline:
                        break
                    page.wait_for_timeout(250)
                title = page.locator(".jp-mod-current .lm-TabBar-tabLabel").first.text_content()
                page.screenshot(path=str(SCREENSHOTS / "classroom-notebook.png"))
                label = "opened the lesson's notebook from the list"
                opened = cells >= 3 and f"{assignment}.ipynb" in (title or "")
                outcomes.append((label, opened, f"tab {title!r}: {cells} cells shown"))

                page.get_by_role("tab", name="Assignments").click()
                expect(tab).to_be_visible()
                fetched = tab.locator("#fetched_assignments_list .list_item", has_text=assignment)
                fetched.first.get_by_role("button", name="Submit").click()
                submitted = tab.locator(
                    "#submitted_assignments_list .list_item", has_text=assignment
                )
                expect(submitted.first).to_be_visible()
                page.screenshot(path=str(SCREENSHOTS / "classroom-submitted.png"))
                inbound = room.exchange / room.course_id / "inbound"
                deadline = time.monotonic() + 30
                mine = []
                while not mine and time.monotonic() < deadline:
                    mine = [
                        d
                        for d in inbound.glob(f"{student}+{assignment}+*")
                        if d.stat().st_uid == account.uid
                    ]
                    time.sleep(0.2)
                outcomes.append(
                    ("submitted it (in the exchange, owned by the student)", bool(mine), "")
                )

                # The same browser session cannot open another student's JupyterLab.
                response = page.goto(f"{room.base}/user/bnc-ada/lab")
                status = response.status if response else 0
                outcomes.append(
                    (
                        "cannot open another student's JupyterLab",
                        status in (403, 404),
                        f"HTTP {status}",
                    )
                )
            except Exception as exc:  # noqa: BLE001 - one outcome, with a picture
                page.screenshot(path=str(SCREENSHOTS / "classroom-failure.png"))
                outcomes.append(("browser steps", False, f"{type(exc).__name__}: {str(exc)[:400]}"))
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    outcomes.append(("no request left 127.0.0.1", not outside, ", ".join(outside[:3])))
    return outcomes
