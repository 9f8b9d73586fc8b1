"""The static copies of the live widgets (``course_lib.static_widgets``) and their cache
(``scripts/static_frames.py``): every frame is what the live widget draws for that
state, the stops are the live slider's values, and the cache is reused only while
nothing that determines the frames has changed."""

from __future__ import annotations

import io
import json
import shutil

import ipywidgets as widgets
import numpy as np
import pytest
import toy_widget
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import static_frames
from course_lib import static_widgets as sw
from course_lib.lessons import LESSONS


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def test_toy_widget_frames_are_what_the_live_widget_draws():
    root = toy_widget.toy_explorer()
    spec = sw.FrameSpec(grid=("a", "b"), stops=4)
    frames = sw.render_frames(root, spec)
    labels = [c.label for c in frames.controls]
    assert labels == ["a", "b", "scale", "shape"]
    a, b, scale, shape = frames.controls
    # a: 0..4 has 5 values: 4 stops, both ends and the start value 2
    assert a.values == [0, 2, 3, 4] and a.readouts == ["0", "2", "3", "4"]
    # b: -3..3 by 0.5 has 13 values: 4 stops, both ends and the start value 0
    assert b.values == [-3.0, 0.0, 1.0, 3.0] and b.readouts[1] == "0.00"
    # scale: 10^-1 .. 10^1 by 10^0.5 has 5 values
    assert scale.values == pytest.approx([0.1, 1.0, 10**0.5, 10.0])
    assert shape.kind == "select" and shape.readouts == list(toy_widget.SHAPES)
    assert [c.default for c in frames.controls] == [1, 1, 1, 1]
    # start + each control alone + the a x b grid, without repeats
    singles = 1 + sum(len(c.values) - 1 for c in frames.controls)
    grid = 4 * 4 - (1 + 3 + 3)  # combinations not already reached moving one slider
    assert len(frames.states) == singles + grid == len(set(frames.states))
    for state, pngs, texts in zip(frames.states, frames.images, frames.html, strict=True):
        values = (a.values[state[0]], b.values[state[1]], shape.values[state[3]])
        values = (*values[:2], values[2], scale.values[state[2]])
        expected = _pixels(toy_widget.picture(*values))
        got = _pixels(pngs[0])
        assert got.shape == expected.shape
        # palette compression: close to the widget's own picture, never another picture
        assert np.abs(got - expected).mean() < 1.0, state
        assert texts == [toy_widget.table(*values)], state
    # the live widget is back at its start values
    assert [c.widget.value for c in frames.controls] == [2, 0.0, 1.0, "parabola"]


def test_frames_differ_between_states():
    frames = sw.render_frames(toy_widget.toy_explorer(), sw.FrameSpec(stops=3))
    distinct = {bytes(p[0]) for p in frames.images}
    assert len(distinct) == len(frames.states)


def test_every_lesson_widget_has_a_static_copy_spec_that_fits_it():
    """Every lesson's static copy, as the site and the decks get it (drawn from the live
    widget, or taken from the cache the site build shares): the spec names controls the
    live widget really has (labels as the reader sees them), each with 2 to ``stops``
    stops, and one sentence saying what the picture shows. (Drawing the frames fails on a
    grid that names a missing control, and on a widget that does not draw the same start
    frame again.)"""
    sets = static_frames.frame_sets(LESSONS)
    for lesson in LESSONS:
        if lesson.skip_reason():  # its widget needs a package that is not installed
            continue
        manifest = sets[lesson.number].manifest
        labels = [c["label"] for c in manifest["controls"]]
        assert labels, f"lesson {lesson.number}: no control found"
        for name in lesson.frames.grid or ():
            assert name in labels, f"lesson {lesson.number}: grid names {name!r}, has {labels}"
        for c in manifest["controls"]:
            assert 2 <= len(c["readouts"]) <= lesson.frames.stops
            assert 0 <= c["default"] < len(c["readouts"])
        assert manifest["alt"] == lesson.frames.alt
        assert lesson.frames.alt.endswith("."), "one sentence saying what the picture shows"


@given(count=st.integers(1, 300), stops=st.integers(2, 30), keep_frac=st.floats(0, 1))
def test_spread_keeps_ends_and_start(count, stops, keep_frac):
    keep = min(count - 1, int(keep_frac * count))
    picks = sw._spread(count, keep, stops)
    assert picks == sorted(set(picks))
    assert keep in picks and picks[0] == 0 and picks[-1] == count - 1
    # as many as asked (all if fewer), one more only when two stops cannot hold 3 points
    extra = stops == 2 and 0 < keep < count - 1
    assert len(picks) == min(count, stops) + extra


def test_unsupported_controls_are_refused():
    image = widgets.Image(value=toy_widget.picture(1, 0, "line", 1), format="png")
    for control in (widgets.IntRangeSlider(), widgets.Text(description="name")):
        with pytest.raises(ValueError, match="cannot drive"):
            sw.render_frames(widgets.VBox([control, image]))
    with pytest.raises(ValueError, match="no Image"):
        sw.render_frames(widgets.VBox([widgets.IntSlider()]))
    with pytest.raises(ValueError, match="no control"):
        sw.render_frames(widgets.VBox([image]))


def test_a_widget_with_history_is_refused():
    """A widget whose picture depends on how it got to its values has no static copy."""
    slider = widgets.IntSlider(value=0, min=0, max=2)
    image = widgets.Image(format="png")
    moves = []

    def redraw(_change=None):
        moves.append(slider.value)
        image.value = toy_widget.picture(min(len(moves), 4), 0, "line", 1)

    slider.observe(redraw, names="value")
    redraw()
    with pytest.raises(ValueError, match="different picture"):
        sw.render_frames(widgets.VBox([slider, image]))


def test_spec_is_checked():
    with pytest.raises(ValueError, match="stops"):
        sw.FrameSpec(stops=1)
    with pytest.raises(ValueError, match="two different"):
        sw.FrameSpec(grid=("a", "a"))
    with pytest.raises(ValueError, match="grid names"):
        sw.render_frames(toy_widget.toy_explorer(), sw.FrameSpec(grid=("a", "zzz")))


# ------------------------------------------------------------------ the cache


def _lesson(stops: int):
    from conftest import fixture_lesson

    lesson = fixture_lesson()
    return type(lesson)(
        lesson.number, lesson.title, lesson.notebook, lesson.widget, sw.FrameSpec(stops=stops)
    )


def test_cache_is_reused_and_invalidated_by_a_dependency(tmp_path, monkeypatch):
    lesson = _lesson(stops=2)
    drawn = []
    first = static_frames.frame_sets([lesson], cache=tmp_path, log=drawn.append)
    assert len(drawn) == 1
    frame_set = first["99"]
    manifest = json.loads((frame_set.folder / "frames.json").read_text(encoding="utf-8"))
    assert "tests/fixtures/toy_widget.py" in manifest["deps"]
    assert "course_lib/static_widgets.py" in manifest["deps"]
    assert frame_set.size() == sum(p.stat().st_size for p in frame_set.folder.glob("*.png"))
    again = static_frames.frame_sets([lesson], cache=tmp_path, log=drawn.append)
    assert len(drawn) == 1 and again["99"].manifest == frame_set.manifest  # reused
    # a dependency's recorded hash no longer matches: drawn again
    manifest["deps"]["tests/fixtures/toy_widget.py"] = "0" * 64
    (frame_set.folder / "frames.json").write_text(json.dumps(manifest), encoding="utf-8")
    # (drawn again in this process: spawning a fresh one is what the first call tested)
    static_frames.frame_sets([lesson], cache=tmp_path, workers=0, log=drawn.append)
    assert len(drawn) == 2
    # a missing frame file: drawn again
    png = next(frame_set.folder.glob("*.png"))
    png.unlink()
    static_frames.frame_sets([lesson], cache=tmp_path, workers=0, log=drawn.append)
    assert len(drawn) == 3
    # another spec is another frame set, which replaces the widget's old one
    static_frames.frame_sets([_lesson(stops=3)], cache=tmp_path, workers=0, log=drawn.append)
    assert len(drawn) == 4 and len(list(tmp_path.iterdir())) == 1
    shutil.rmtree(tmp_path)


def test_widget_html_is_labelled_like_the_live_widget(tmp_path):
    from bs4 import BeautifulSoup

    (frame_set,) = static_frames.frame_sets([_lesson(stops=2)], cache=tmp_path, workers=0).values()
    soup = BeautifulSoup(static_frames.widget_html(frame_set, "f/", "w1"), "html.parser")
    labels = [x.get_text() for x in soup.select(".csw-control label")]
    assert labels == ["a", "b", "scale", "shape"]
    assert [i["type"] for i in soup.select("input")] == ["range"] * 3
    assert [o.get_text() for o in soup.select("select option")] == list(toy_widget.SHAPES)
    assert [o.get_text() for o in soup.select("output")] == ["2", "0.00", "1", "parabola"]
    img = soup.select_one("img.csw-image")
    assert img["src"].startswith("f/") and (frame_set.folder / img["src"][2:]).is_file()
    assert "JupyterLab" in soup.select_one(".csw-note").get_text()
    data = json.loads(soup.select_one("script.csw-data").string)
    for frame in data["frames"].values():
        assert all((frame_set.folder / name).is_file() for name in frame["i"])
