// Walk a reveal.js deck slide by slide and fragment by fragment, at the window's size,
// and report what a lecturer would see (tests/test_browser.py). Returns one record per
// slide: its indices, content size, fragments below the bottom edge, code lines broken
// inside a word, the smallest code font and figure text in screen pixels, and its words.
() => {
  const cfg = Reveal.getConfig();
  const W = cfg.width, H = cfg.height;
  const box = document.querySelector(".reveal .slides");
  const words = (el) => {
    const clone = el.cloneNode(true);
    // prose only: tables, like figures and formulas, are not counted
    clone.querySelectorAll("aside.notes, mjx-container, pre, code, .course-static-widget, details, table")
      .forEach((x) => x.remove());
    return clone.textContent.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
  };
  const midWordBreaks = (pre) => {
    // Where the rendered line changes without a newline in the source, the break must sit
    // at white space.
    const found = [];
    const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    let prevTop = null, prevChar = "\n";
    while (walker.nextNode()) {
      const node = walker.currentNode, text = node.nodeValue;
      for (let i = 0; i < text.length; i++) {
        const ch = text[i];
        if (ch === "\n") { prevChar = ch; prevTop = null; continue; }
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rect = range.getBoundingClientRect();
        if (rect.height === 0) continue;
        if (prevTop !== null && rect.top > prevTop + rect.height / 2
            && !/\s/.test(prevChar) && !/\s/.test(ch)) {
          found.push(text.slice(Math.max(0, i - 12), i) + "⏎" + text.slice(i, i + 12));
        }
        prevTop = rect.top;
        prevChar = ch;
      }
    }
    return found;
  };
  const report = [];
  for (const slide of Reveal.getSlides()) {
    const at = Reveal.getIndices(slide);
    const frags = [...slide.querySelectorAll(".fragment")];
    const steps = [...new Set(frags.map((f) => Number(f.getAttribute("data-fragment-index"))))]
      .sort((a, b) => a - b);
    const record = {
      h: at.h, v: at.v, scale: 1, fragments: steps.length,
      title: (slide.querySelector("h1, h2, h3, h4") || {}).textContent || "",
      height: 0, width: 0, W, H, lostFragments: [],
      codeFontPx: null, midWordBreaks: [], figures: [], words: words(slide),
      notes: slide.querySelectorAll("aside.notes").length,
    };
    // every step: the slide alone, then each fragment shown in turn
    for (const f of [-1, ...steps]) {
      Reveal.slide(at.h, at.v, f);
      const scale = Reveal.getScale();
      const top = box.getBoundingClientRect().top;
      record.scale = scale;
      record.height = Math.max(record.height, slide.scrollHeight);
      record.width = Math.max(record.width, slide.scrollWidth);
      for (const frag of slide.querySelectorAll(".fragment.visible")) {
        const text = frag.textContent.trim().slice(0, 60);
        const bottom = (frag.getBoundingClientRect().bottom - top) / scale;
        if (bottom > H + 1 && !record.lostFragments.includes(text)) record.lostFragments.push(text);
      }
    }
    const scale = record.scale;
    for (const pre of slide.querySelectorAll(".jp-InputArea pre, .jp-OutputArea pre")) {
      const px = parseFloat(getComputedStyle(pre).fontSize) * scale;
      record.codeFontPx = record.codeFontPx === null ? px : Math.min(record.codeFontPx, px);
      record.midWordBreaks.push(...midWordBreaks(pre));
    }
    for (const img of slide.querySelectorAll("img")) {
      const font = img.getAttribute("data-min-font-px");
      const shown = img.naturalWidth ? img.getBoundingClientRect().width / img.naturalWidth : null;
      record.figures.push({
        alt: img.getAttribute("alt"),
        minFontPx: font === null || shown === null ? null : parseFloat(font) * shown,
        widget: !!img.closest(".course-static-widget"),
      });
    }
    report.push(record);
  }
  Reveal.slide(0, 0);
  return report;
}
