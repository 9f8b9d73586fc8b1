/* Static copies of the course's live widgets (scripts/static_frames.py writes the markup).
 *
 * Each <div class="course-static-widget"> holds labelled controls, the start frame and,
 * in <script class="csw-data">, the frame table: for every reachable state (one stop
 * index per control, joined by commas) the images and HTML texts the live widget drew.
 * Moving a control shows the frame of the new state. A control moves alone (the others
 * go back to their start) unless it and another control form the widget's "grid", in
 * which case both keep their positions. No library, nothing fetched but the frames.
 */
(function () {
  "use strict";

  function setup(root) {
    if (root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    var data = JSON.parse(root.querySelector("script.csw-data").textContent);
    var base = root.getAttribute("data-frames");
    var inputs = Array.prototype.slice.call(root.querySelectorAll("[data-control]"));
    var readouts = root.querySelectorAll("output[data-readout]");
    var images = root.querySelectorAll("img.csw-image");
    var texts = root.querySelectorAll(".csw-html");
    var state = data.controls.map(function (c) { return c["default"]; });
    var grid = data.grid || [];
    var preloaded = false;

    function together(i, k) {
      return grid.indexOf(i) >= 0 && grid.indexOf(k) >= 0;
    }

    function alt() {
      var values = data.controls.map(function (c, i) {
        return c.label + " " + c.readouts[state[i]];
      });
      return (data.alt || "The widget's picture") + " (" + values.join(", ") + ")";
    }

    function preload() {
      // All frames of this widget, once the reader starts moving it.
      if (preloaded) return;
      preloaded = true;
      var seen = {};
      Object.keys(data.frames).forEach(function (key) {
        data.frames[key].i.forEach(function (name) {
          if (!seen[name]) {
            seen[name] = true;
            new Image().src = base + name;
          }
        });
      });
    }

    function show() {
      var frame = data.frames[state.join(",")];
      if (!frame) return;
      var text = alt();
      frame.i.forEach(function (name, n) {
        images[n].src = base + name;
        images[n].alt = text;
      });
      frame.h.forEach(function (k, n) {
        texts[n].innerHTML = data.html[k];
      });
      inputs.forEach(function (input, i) {
        var readout = data.controls[i].readouts[state[i]];
        input.value = String(state[i]);
        if (input.type === "range") input.setAttribute("aria-valuetext", readout);
        readouts[i].textContent = readout;
      });
      root.setAttribute("data-state", state.join(","));
    }

    inputs.forEach(function (input, i) {
      input.addEventListener("input", function () {
        state[i] = Number(input.value);
        for (var k = 0; k < state.length; k++) {
          if (k !== i && !together(i, k)) state[k] = data.controls[k]["default"];
        }
        show();
      });
      // Arrow keys move the slider, not the slide deck around it.
      input.addEventListener("keydown", function (event) { event.stopPropagation(); });
      input.addEventListener("pointerdown", preload);
      input.addEventListener("focus", preload);
    });
    root.setAttribute("data-state", state.join(","));
  }

  function setupAll() {
    var roots = document.querySelectorAll(".course-static-widget");
    for (var i = 0; i < roots.length; i++) setup(roots[i]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setupAll);
  } else {
    setupAll();
  }
})();
