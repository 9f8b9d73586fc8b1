"""The static copies of the lessons' live widgets: frames drawn once, cached, shown anywhere.

``frame_sets(lessons)`` returns, for each lesson, the frames of its live widget drawn by
``course_lib.static_widgets.render_frames`` (the widget registered in
``course_lib/lessons.py``, moved through its sliders as ``Lesson.frames`` says). Frames
are cached in ``build/widget-frames/``: one folder per widget and spec, holding a
``frames.json`` and the frames as palette PNGs named by their content hash. A folder
is used again when everything that determines its frames is unchanged:

- the key: the widget's "module:function", its ``FrameSpec``, ``FORMAT`` below, the
  packages' versions (``requirements.lock`` and the versions actually imported);
- the dependencies: a hash of every module of the repository (``course_lib``'s, the
  widget's) the drawing process had imported, recorded in ``frames.json`` after
  drawing and checked before reuse.

Missing frame sets are drawn in parallel, one fresh process per widget (2 at a time).

``widget_html(frame_set, base)`` is the HTML that replaces a widget's output on a page
or a slide: labelled controls like the live widget's, the start frame, a note that the
live version runs in JupyterLab, and the frame table as JSON for ``static-widget.js``
(no library, nothing fetched but the frame images from ``base``).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import html
import importlib
import json
import multiprocessing
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "widget-frames"
FORMAT = 2  # bump when frames.json or the drawing changes meaning
PACKAGES = ("numpy", "matplotlib", "ipywidgets", "PIL", "sklearn", "scipy", "numba")
JS = Path(__file__).resolve().parent / "site" / "static-widget.js"

LIVE_NOTE = (
    "A static copy of the live widget: every picture was drawn in advance. The live "
    "version, which recomputes as you move the sliders, runs in JupyterLab (make lab)."
)


@dataclass
class FrameSet:
    """One widget's frames in the cache: ``folder`` holds ``frames.json`` and the PNGs."""

    folder: Path
    manifest: dict

    @property
    def files(self) -> list[Path]:
        return [self.folder / name for name in self.manifest["files"]]

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key(widget: str, spec) -> dict:
    lock = ROOT / "requirements.lock"
    key = {
        "format": FORMAT,
        "widget": widget,
        "spec": asdict(spec),
        "lock": _sha256(lock.read_bytes()) if lock.exists() else "",
        "python": sys.version.split()[0],
    }
    return json.loads(json.dumps(key))  # as read back from frames.json (tuples -> lists)


def _folder(widget: str, key: dict, cache: Path) -> Path:
    digest = _sha256(json.dumps(key, sort_keys=True).encode())[:16]
    return cache / f"{widget.replace(':', '.').replace('course_lib.', '')}-{digest}"


def _deps_unchanged(deps: dict[str, str]) -> bool:
    for rel, digest in deps.items():
        path = ROOT / rel
        if not path.is_file() or _sha256(path.read_bytes()) != digest:
            return False
    return bool(deps)


def _cached(folder: Path, key: dict) -> FrameSet | None:
    try:
        manifest = json.loads((folder / "frames.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("key") != key or not _deps_unchanged(manifest.get("deps", {})):
        return None
    if not all((folder / name).is_file() for name in manifest["files"]):
        return None
    return FrameSet(folder, manifest)


def _imported_project_modules() -> dict[str, str]:
    """A hash of every module of this repository the process has imported (course_lib's
    and the widget's own module), by path relative to the repository."""
    deps = {}
    venv = ROOT / ".venv"
    for name, module in list(sys.modules.items()):
        if name in ("__main__", "__mp_main__"):  # the program that started the drawing
            continue
        path = getattr(module, "__file__", None)
        # (some modules, e.g. PyTorch's generated ones, carry a bare file name: not ours)
        if not path or not path.endswith(".py") or not os.path.isabs(path):
            continue
        path = Path(path).resolve()
        if ROOT in path.parents and venv not in path.parents and path.is_file():
            deps[str(path.relative_to(ROOT))] = _sha256(path.read_bytes())
    return dict(sorted(deps.items()))


def _worker_init() -> None:
    os.environ["MPLBACKEND"] = "Agg"  # this process only: it draws off-screen
    # Two drawing processes share the cores: one thread each. (PyTorch's default of one
    # thread per core made lesson 07's drawing 3x slower on 2 busy cores.)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    sys.path.insert(0, str(ROOT))


def draw(widget: str, spec, folder: str, key: dict) -> dict:
    """Draw one widget's frames into ``folder``; return the manifest. (Run in a fresh
    process, so that the modules it records as dependencies are the widget's own.)"""
    from course_lib.figures import recording_text_sizes
    from course_lib.static_widgets import render_frames

    module, func = widget.split(":")
    with recording_text_sizes() as sizes:  # the texts the widget's figure draws
        root = getattr(importlib.import_module(module), func)()
        frames = render_frames(root, spec)
    target = Path(folder)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names: dict[bytes, str] = {}
    html_table: list[str] = []
    html_index: dict[str, int] = {}
    table = {}
    for state, pngs, texts in zip(frames.states, frames.images, frames.html, strict=True):
        files = []
        for png in pngs:
            if png not in names:
                names[png] = f"{_sha256(png)[:16]}.png"
                (tmp / names[png]).write_bytes(png)
            files.append(names[png])
        idx = []
        for text in texts:
            if text not in html_index:
                html_index[text] = len(html_table)
                html_table.append(text)
            idx.append(html_index[text])
        table[",".join(map(str, state))] = {"i": files, "h": idx}
    versions = {}
    for name in PACKAGES:
        mod = sys.modules.get(name)
        if mod is not None:
            versions[name] = getattr(mod, "__version__", "")
    manifest = {
        "key": key,
        "deps": _imported_project_modules(),
        "versions": versions,
        "controls": [
            {"label": c.label, "kind": c.kind, "readouts": c.readouts, "default": c.default}
            for c in frames.controls
        ],
        "grid": list(frames.grid) if frames.grid else None,
        "image_sizes": [list(s) for s in frames.image_sizes],
        "min_font_px": round(min(sizes), 2) if sizes else None,
        "alt": spec.alt,
        "html": html_table,
        "frames": table,
        "files": sorted(set(names.values())),
    }
    (tmp / "frames.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    for old in target.parent.glob(f"{target.name.rsplit('-', 1)[0]}-*"):
        if old != target and not old.name.endswith(".tmp"):  # the widget's stale sets
            shutil.rmtree(old, ignore_errors=True)
    return manifest


def frame_sets(lessons, cache: Path = CACHE, workers: int = 2, log=print) -> dict[str, FrameSet]:
    """Each lesson's frame set (lesson number -> FrameSet), drawing those not cached
    (``workers`` processes at a time; 0: in this process, for tests). A lesson whose
    optional package is missing (``Lesson.skip_reason``) and whose frames are not cached
    gets none: its page and slide show the widget's note instead."""
    found: dict[str, FrameSet] = {}
    todo = []
    for lesson in lessons:
        key = _key(lesson.widget, lesson.frames)
        folder = _folder(lesson.widget, key, cache)
        hit = _cached(folder, key)
        if hit is not None:
            found[lesson.number] = hit
        elif lesson.skip_reason():  # its widget needs a missing package (lesson 07: PyTorch)
            log(f"no static widget: {lesson.skip_reason()}")
        else:
            todo.append((lesson, key, folder))
    if todo and workers == 0:
        for lesson, key, folder in todo:
            found[lesson.number] = FrameSet(
                folder, draw(lesson.widget, lesson.frames, str(folder), key)
            )
            log(f"frames of lesson {lesson.number}'s widget drawn: {_shown(folder)}")
    elif todo:
        cache.mkdir(parents=True, exist_ok=True)
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=max(1, min(workers, len(todo))),
            mp_context=context,
            max_tasks_per_child=1,
            initializer=_worker_init,
        ) as pool:
            jobs = {
                pool.submit(draw, lesson.widget, lesson.frames, str(folder), key): (lesson, folder)
                for lesson, key, folder in todo
            }
            for job in concurrent.futures.as_completed(jobs):
                lesson, folder = jobs[job]
                found[lesson.number] = FrameSet(folder, job.result())
                log(f"frames of lesson {lesson.number}'s widget drawn: {_shown(folder)}")
    return found


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def copy_frames(frame_set: FrameSet, dest: Path) -> None:
    """Put the frame images into ``dest`` (the folder ``widget_html``'s ``base`` names)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in frame_set.files:
        target = dest / path.name
        if not target.exists() or target.stat().st_size != path.stat().st_size:
            shutil.copyfile(path, target)


def _json_for_script(data) -> str:
    """JSON that can sit inside a <script> element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def widget_html(frame_set: FrameSet, base: str, uid: str) -> str:
    """The static copy of a widget, for a page or a slide; frames are loaded from ``base``
    (a folder URL relative to the page, ending in "/")."""
    m = frame_set.manifest
    start = ",".join(str(c["default"]) for c in m["controls"])
    frame = m["frames"][start]
    rows = []
    for i, c in enumerate(m["controls"]):
        cid = f"{uid}-c{i}"
        label = html.escape(c["label"])
        readout = html.escape(c["readouts"][c["default"]])
        if c["kind"] == "range":
            control = (
                f'<input type="range" id="{cid}" min="0" max="{len(c["readouts"]) - 1}" '
                f'step="1" value="{c["default"]}" data-control="{i}" '
                f'aria-valuetext="{readout}">'
            )
        else:
            options = "".join(
                f'<option value="{k}"{" selected" if k == c["default"] else ""}>'
                f"{html.escape(r)}</option>"
                for k, r in enumerate(c["readouts"])
            )
            control = f'<select id="{cid}" data-control="{i}">{options}</select>'
        rows.append(
            f'<div class="csw-control"><label for="{cid}">{label}</label>{control}'
            f'<output for="{cid}" data-readout="{i}">{readout}</output></div>'
        )
    texts = "".join(f'<div class="csw-html">{m["html"][k]}</div>' for k in frame["h"])
    alt = html.escape(_alt(m, [c["default"] for c in m["controls"]]))
    font = m.get("min_font_px")
    font_attr = f' data-min-font-px="{font}"' if font else ""
    images = "".join(
        f'<img class="csw-image" src="{html.escape(base)}{name}" width="{w}" height="{h}" '
        f'alt="{alt}"{font_attr}>'
        for name, (w, h) in zip(frame["i"], m["image_sizes"], strict=True)
    )
    if m["grid"]:
        a, b = (html.escape(m["controls"][k]["label"]) for k in m["grid"])
        moves = (
            f"One slider at a time (the others go back to their start), except {a} and "
            f"{b}, which move together."
        )
    else:
        moves = "One slider at a time: the others go back to their start values."
    data = {k: m[k] for k in ("controls", "grid", "html", "frames", "alt")}
    return (
        f'<div class="course-static-widget" id="{uid}" data-frames="{html.escape(base)}">'
        f'<div class="csw-panel"><div class="csw-controls">{"".join(rows)}</div>{texts}</div>'
        f'<div class="csw-images">{images}</div>'
        f'<p class="csw-note">{html.escape(LIVE_NOTE)} {moves}</p>'
        f'<script type="application/json" class="csw-data">{_json_for_script(data)}</script>'
        "</div>"
    )


def _alt(manifest: dict, state: list[int]) -> str:
    values = ", ".join(
        f"{c['label']} {c['readouts'][k]}" for c, k in zip(manifest["controls"], state, strict=True)
    )
    lead = manifest["alt"] or "The widget's picture"
    return f"{lead} ({values})"


def script() -> str:
    """The static widgets' JavaScript (inlined in decks, a file on the site)."""
    return JS.read_text(encoding="utf-8")
