"""Measure what users of the course feel (``make bench``): prints a table, writes JSON.

    python scripts/bench.py                   # everything, about 1-2 minutes
    python scripts/bench.py --skip notebooks  # parts: notebooks widgets bn mlp grading
    python scripts/bench.py --json PATH       # default build/bench.json
    python scripts/bench.py --grading-class 100   # simulated submissions (default 100)

- notebooks: each lesson notebook executed top to bottom in a fresh kernel (nbclient,
  in memory: the files are not written), kernel start included; and the series total;
  for the English notebooks and for the Chinese edition's (notebooks/zh_CN).
  One run each (a notebook is what a learner runs once); an empty notebook's time is
  given as the kernel's own start-up cost.
- widgets: each lesson's live widget built by ``LESSONS[i].make_widget()``; every slider
  in it is moved (``slider.value = new``, which redraws synchronously) to values not yet
  shown, then to the same values again: median over the sliders of each slider's median
  first-visit time, the slowest slider, and the repeat time, in ms (target <= 100 ms).
- bn: Batch Norm forward + backward, compact (``batchnorm_backward``) and staged
  (``batchnorm_backward_staged``), at course sizes and at 4096 x 1024 float32; then
  the backward passes alone: staged, compact in numpy (``batchnorm_backward_vectorized``)
  and compact compiled (``batchnorm_backward``, the course's reference).
- mlp: one training step (forward, backward, SGD update) of lesson 04's network
  64-100-100-100-10 sigmoid on a batch of 60, without and with Batch Norm.
- grading: nbgrader autograde (``scripts/grade_class.py``, nbgrader's API, default time
  limits) on a scratch course directory: seconds per submission for each lesson (the
  reference answers, two submissions graded one after the other, kernel start included),
  then a class of simulated submissions of lesson 03 (default 100: 60% right, 30% with a
  typical mistake, 10% broken: an endless loop and a deleted function) graded with 1 and
  with 2 workers: wall time, submissions per minute, and the speed-up. The longest part
  (about 10 minutes on 2 cores); ``--skip grading`` leaves it out.
- convnet: one training step (forward, backward, SGD-with-momentum update) of lesson 06's
  conv net (conv 8 - conv 16 - dense 64 - dense 10, course_lib.convnet, float64) on a
  batch of 32 digits, with Batch Norm, Group Norm and no normalization.
- With PyTorch installed, the same BN forward + backward, MLP and conv net steps in PyTorch
  (CPU, eager), on one thread (the numpy code's element-wise work runs on one core)
  and on PyTorch's default thread count, and the ratio numpy time / PyTorch one-thread
  time (> 1: PyTorch is faster).

Micro-benchmarks report the median of several repeats, each timing enough calls to
last at least ~50 ms. Timings depend on the machine and on its load: the JSON records
the machine (CPU, cores, numpy and its BLAS) next to the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # this process draws nothing on screen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import run_notebooks  # noqa: E402  (this script's folder is on sys.path)
from course_lib.lessons import LESSONS  # noqa: E402

PARTS = ("notebooks", "widgets", "bn", "mlp", "convnet", "grading")
GRADING_LESSON = "03"  # the lesson of the simulated class
BN_SIZES = ((60, 100, "float64"), (256, 512, "float64"), (4096, 1024, "float32"))
MLP_SIZES = (64, 100, 100, 100, 10)
MLP_BATCH = 60
MLP_LR = 0.1

# --------------------------------------------------------------------- timing


def measure(fn: Callable[[], object], repeats: int = 7, min_time: float = 0.05) -> dict:
    """Seconds per call of ``fn``: median (and min) of ``repeats`` timings of a loop of
    calls long enough to last ``min_time`` (after one warm-up call)."""
    fn()
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        took = time.perf_counter() - start
        if took >= min_time or loops >= 1 << 20:
            break
        loops *= max(2, min(10, int(min_time / max(took, 1e-9)) + 1))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        times.append((time.perf_counter() - start) / loops)
    return {"median": statistics.median(times), "min": min(times), "loops": loops}


# --------------------------------------------------------------------- machine


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "numpy": np.__version__,
        "blas": [],
        "env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))},
    }
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            info["blas"].append(
                {k: pool.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            )
    except ImportError:
        pass
    torch = _torch()
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# --------------------------------------------------------------------- notebooks


def bench_notebooks(language: str | None = None) -> dict:
    """Each lesson notebook run top to bottom; ``language="zh_CN"``: the Chinese edition's
    (``notebooks/zh_CN``, which also draws its figures with the CJK font)."""
    import nbformat

    run_notebooks.use_kernel_environment()
    notebooks = ROOT / "notebooks" / language if language else ROOT / "notebooks"

    def run(nb) -> float:
        start = time.perf_counter()
        run_notebooks.client(nb, cwd=notebooks).execute()
        return time.perf_counter() - start

    empty = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    result = {"kernel_start_s": run(empty), "lessons": {}}
    for lesson in LESSONS:
        path = notebooks / f"{lesson.notebook}.ipynb"
        if not path.exists():
            result["lessons"][lesson.number] = {"notebook": path.name, "missing": True}
            continue
        if lesson.skip_reason():  # an optional package (PyTorch for 07) is not installed
            skipped = {"notebook": path.name, "skipped": lesson.skip_reason()}
            result["lessons"][lesson.number] = skipped
            print(f"  {lesson.skip_reason()}", file=sys.stderr)
            continue
        seconds = run(nbformat.read(path, as_version=4))
        result["lessons"][lesson.number] = {"notebook": path.name, "seconds": seconds}
        where = f"{language}/" if language else ""
        print(f"  notebook {where}{lesson.number}: {seconds:.1f} s", file=sys.stderr)
    done = [v["seconds"] for v in result["lessons"].values() if "seconds" in v]
    result["total_s"] = sum(done)
    result["complete"] = len(done) == len([x for x in LESSONS if not x.skip_reason()])
    return result


# --------------------------------------------------------------------- widgets


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _sliders(root) -> list:
    return [w for w in _walk(root) if type(w).__name__.endswith("Slider")]


def _displays(root) -> list:
    import ipywidgets

    return [w for w in _walk(root) if isinstance(w, ipywidgets.Image | ipywidgets.HTML)]


def _other_values(slider, count: int = 4) -> list:
    """``count`` values of the slider's range other than its current value, spread out."""
    if hasattr(slider, "options"):  # SelectionSlider / SelectionRangeSlider
        labels = list(slider.options)
        values = [o[1] if isinstance(o, tuple) else o for o in labels]
        picks = [values[round(i * (len(values) - 1) / count)] for i in range(count + 1)]
        return [v for v in picks if v != slider.value][:count] or values[:1]
    lo, hi, step = slider.min, slider.max, getattr(slider, "step", None) or 1
    if type(slider).__name__.endswith("RangeSlider"):
        a, b = slider.value
        mid = (lo + hi) / 2
        return [(lo, mid), (mid, hi), (a, b)][:count]
    base = getattr(slider, "base", None)  # FloatLogSlider: min, max, step are exponents
    values = []
    for k in range(1, count + 1):
        v = lo + (hi - lo) * k / (count + 1)
        v = min(max(lo + round((v - lo) / step) * step, lo), hi)
        v = type(slider.value)(base**v if base else v)
        if v != slider.value and v not in values:
            values.append(v)
    return values or [type(slider.value)(base**hi if base else hi)]


def bench_widgets(rounds: int = 3) -> dict:
    """Per lesson: time ``slider.value = v`` for every slider. The first round visits
    values the widget has not shown yet ("first": what a learner feels; some widgets
    cache their images), later rounds revisit them ("repeat")."""
    result = {}
    for lesson in LESSONS:
        entry: dict = {"widget": lesson.widget}
        if lesson.skip_reason():
            entry["skipped"] = lesson.skip_reason()
            result[lesson.number] = entry
            continue
        try:
            start = time.perf_counter()
            root = lesson.make_widget()
            entry["build_s"] = time.perf_counter() - start
        except Exception as exc:  # a lesson being written: report it, measure the rest
            entry["error"] = f"{type(exc).__name__}: {exc}"
            result[lesson.number] = entry
            continue
        displays = _displays(root)
        entry["sliders"] = {}
        changed = False
        for slider in _sliders(root):
            name = slider.description or type(slider).__name__
            original = slider.value
            values = _other_values(slider)
            first, repeat = [], []
            for round_ in range(rounds):
                for value in [*values, original]:
                    before = [d.value for d in displays]
                    start = time.perf_counter()
                    slider.value = value
                    took = time.perf_counter() - start
                    changed |= [d.value for d in displays] != before
                    # Going back to the start value redraws what the build already drew.
                    (first if round_ == 0 and value != original else repeat).append(took)
            entry["sliders"][name] = {
                "first_ms": 1e3 * statistics.median(first),
                "first_max_ms": 1e3 * max(first),
                "repeat_ms": 1e3 * statistics.median(repeat),
                "updates": len(first) + len(repeat),
            }
        firsts = [s["first_ms"] for s in entry["sliders"].values()]
        repeats = [s["repeat_ms"] for s in entry["sliders"].values()]
        entry["median_ms"] = statistics.median(firsts) if firsts else None
        entry["worst_slider_ms"] = max(firsts) if firsts else None
        entry["repeat_ms"] = statistics.median(repeats) if repeats else None
        entry["output_changed"] = changed
        result[lesson.number] = entry
        if firsts:
            print(f"  widget {lesson.number}: {entry['median_ms']:.1f} ms", file=sys.stderr)
    return result


# --------------------------------------------------------------------- Batch Norm


def _grow_malloc_threshold() -> None:
    """Free one large array so that glibc raises its mmap threshold (to 24 MB here).

    Below that threshold, freed memory is reused; at or above it, every new array is a
    fresh mapping whose pages fault in on first touch. The threshold starts at 128 KB and
    grows to the size of the largest mapped block freed so far, so a 1 MB temporary is
    page-faulted on every call in a fresh process (about 4x slower at 256 x 512) but not
    in a process that has run anything sizeable, such as a training loop or a notebook.
    Measuring from the warm state keeps the numbers independent of what ran before."""
    block = np.ones(3 << 20)
    del block


def bench_bn(torch_too: bool) -> list[dict]:
    from course_lib.batchnorm import (
        batchnorm_backward,
        batchnorm_backward_staged,
        batchnorm_backward_vectorized,
        batchnorm_forward,
    )

    torch = _torch() if torch_too else None
    rows = []
    for m, n, dtype in BN_SIZES:
        rng = np.random.default_rng(0)
        z = rng.normal(2.0, 3.0, size=(m, n)).astype(dtype)
        dout = rng.normal(size=(m, n)).astype(dtype)
        gamma = rng.uniform(0.5, 1.5, size=n).astype(dtype)
        beta = rng.normal(size=n).astype(dtype)

        def compact(z=z, dout=dout, gamma=gamma, beta=beta):
            _, cache = batchnorm_forward(z, gamma, beta)
            return batchnorm_backward(dout, cache)

        def staged(z=z, dout=dout, gamma=gamma, beta=beta):
            _, cache = batchnorm_forward(z, gamma, beta)
            return batchnorm_backward_staged(dout, cache)

        # The backward passes alone, on one cache: the forms differ only there.
        # measure() calls each once first, so numba's compilation is not timed.
        _, cache = batchnorm_forward(z, gamma, beta)

        def backward_alone(fn, cache=cache, dout=dout):
            return measure(lambda: fn(dout, cache))

        compact_bwd = backward_alone(batchnorm_backward)
        vectorized_bwd = backward_alone(batchnorm_backward_vectorized)
        staged_bwd = backward_alone(batchnorm_backward_staged)
        row = {
            "shape": [m, n],
            "dtype": dtype,
            "compact_ms": 1e3 * measure(compact)["median"],
            "staged_ms": 1e3 * measure(staged)["median"],
            "compact_backward_ms": 1e3 * compact_bwd["median"],
            "vectorized_backward_ms": 1e3 * vectorized_bwd["median"],
            "staged_backward_ms": 1e3 * staged_bwd["median"],
            "backward_speedup": staged_bwd["median"] / compact_bwd["median"],
            "vectorized_backward_speedup": staged_bwd["median"] / vectorized_bwd["median"],
        }
        if torch is not None:
            row.update(_measure_torch(torch, _torch_bn(torch, z, dout, gamma, beta)))
            row["compact_over_torch"] = row["compact_ms"] / row["torch_ms"]
        rows.append(row)
        print(f"  bn {m}x{n} {dtype}: {row['compact_ms']:.3f} ms", file=sys.stderr)
    return rows


def _measure_torch(torch, step: Callable[[], object]) -> dict:
    """Median ms of ``step`` with PyTorch on 1 thread (like the numpy code, whose
    element-wise operations run on one core) and on its default thread count."""
    default = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = 1e3 * measure(step)["median"]
    finally:
        torch.set_num_threads(default)
    return {"torch_ms": one, "torch_default_threads_ms": 1e3 * measure(step)["median"]}


def _torch_bn(torch, z, dout, gamma, beta):
    import torch.nn.functional as F

    zt = torch.from_numpy(z).requires_grad_(True)
    gt = torch.from_numpy(gamma).requires_grad_(True)
    bt = torch.from_numpy(beta).requires_grad_(True)
    dt = torch.from_numpy(dout)

    def step():
        zt.grad = gt.grad = bt.grad = None
        out = F.batch_norm(zt, None, None, gt, bt, training=True, eps=1e-5)
        out.backward(dt)

    return step


# --------------------------------------------------------------------- MLP


def bench_mlp(torch_too: bool) -> list[dict]:
    from course_lib.network import MLP, make_optimizer, train_step

    torch = _torch() if torch_too else None
    rng = np.random.default_rng(0)
    X = rng.normal(size=(MLP_BATCH, MLP_SIZES[0]))
    y = rng.integers(0, MLP_SIZES[-1], size=MLP_BATCH)
    rows = []
    for batchnorm in (False, True):
        model = MLP(MLP_SIZES, activation="sigmoid", batchnorm=batchnorm, seed=0)
        opt = make_optimizer("sgd", MLP_LR)
        row = {
            "network": "-".join(map(str, MLP_SIZES)) + " sigmoid",
            "batchnorm": batchnorm,
            "batch": MLP_BATCH,
            "dtype": "float64",
            "numpy_ms": 1e3 * measure(lambda m=model, o=opt: train_step(m, o, X, y))["median"],
        }
        if torch is not None:
            row.update(_measure_torch(torch, _torch_mlp(torch, X, y, batchnorm)))
            row["numpy_over_torch"] = row["numpy_ms"] / row["torch_ms"]
        rows.append(row)
        print(f"  mlp bn={batchnorm}: {row['numpy_ms']:.3f} ms", file=sys.stderr)
    return rows


def _torch_mlp(torch, X, y, batchnorm: bool):
    from torch import nn

    torch.manual_seed(0)
    layers: list = []
    for fan_in, fan_out in zip(MLP_SIZES[:-2], MLP_SIZES[1:-1], strict=True):
        layers.append(nn.Linear(fan_in, fan_out, bias=not batchnorm))  # BN makes b redundant
        if batchnorm:
            layers.append(nn.BatchNorm1d(fan_out, momentum=0.1, eps=1e-5))
        layers.append(nn.Sigmoid())
    layers.append(nn.Linear(MLP_SIZES[-2], MLP_SIZES[-1]))
    model = nn.Sequential(*layers).double().train()
    opt = torch.optim.SGD(model.parameters(), lr=MLP_LR)
    loss_fn = nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(Xt), yt)
        loss.backward()
        opt.step()

    return step


# --------------------------------------------------------------------- grading


def _grading_course(tmp: Path):
    """A course directory with every lesson released (as ``release.py --course-dir``)."""
    import release

    course = tmp / "course"
    lessons = release.one_assignment_per_lesson(release.lesson_notebooks())
    release.write_course(course, lessons)
    release.generate(course, lessons)
    return course, list(lessons)


def _submit(course: Path, assignment: str, student: str, fate) -> None:
    import nbformat

    import autograde_demo as demo

    released = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", 4)
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", 4)
    target = course / "submitted" / student / assignment
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(demo.submission(released, source, fate), target / f"{assignment}.ipynb")
    (target / "timestamp.txt").write_text("2026-11-28 10:00:00.000000 UTC")


def _class_fate(i: int):
    """Student i of a simulated class: 60% right, 30% a typical mistake, 10% broken."""
    import autograde_demo as demo

    kind = "broken" if i % 10 == 9 else "typical" if i % 10 >= 6 else "reference"
    broken = lambda k, name: ("endless", "delete")[k % 2]  # noqa: E731
    return kind, broken if kind == "broken" else demo.STUDENTS[kind]


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes, kernels included."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_grading(class_size: int = 100, workers: tuple[int, ...] = (1, 2)) -> dict:
    import tempfile
    import warnings

    import grade_class

    warnings.simplefilter("ignore")
    os.environ.pop("COURSE_CHECK_TIMEOUT", None)  # the course's default limits, as in class
    result: dict = {"lessons": {}, "class": {}}
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        course, assignments = _grading_course(Path(tmp))
        for assignment in assignments:
            for k in range(2):
                _submit(course, assignment, f"ref{k}", lambda k, name: "reference")
            cpu = _children_cpu()
            run = grade_class.grade(course, assignment, workers=1, progress=False)
            n = max(len(run["graded"]), 1)
            per = run["seconds"] / n
            result["lessons"][assignment[:2]] = {
                "assignment": assignment,
                "seconds_per_submission": per,
                "cpu_seconds_per_submission": (_children_cpu() - cpu) / n,
                "failed": len(run["failed"]),
            }
            print(f"  autograde {assignment}: {per:.1f} s per submission", file=sys.stderr)
        assignment = next(a for a in assignments if a.startswith(GRADING_LESSON))
        kinds: dict[str, int] = {}
        for i in range(class_size):
            kind, fate = _class_fate(i)
            kinds[kind] = kinds.get(kind, 0) + 1
            _submit(course, assignment, f"s{i:03d}", fate)
        result["class"] = {"assignment": assignment, "submissions": class_size, "mix": kinds}
        for n in workers:
            cpu = _children_cpu()
            run = grade_class.grade(course, assignment, workers=n, force=True, progress=False)
            result["class"][f"{n}_workers_s"] = run["seconds"]
            result["class"][f"{n}_workers_cpu_s"] = _children_cpu() - cpu
            result["class"][f"{n}_workers_failed"] = len(run["failed"])
            print(
                f"  {class_size} x {assignment}, {n} worker(s): {run['seconds']:.0f} s",
                file=sys.stderr,
            )
        one, many = (
            result["class"].get("1_workers_s"),
            result["class"].get(f"{max(workers)}_workers_s"),
        )
        if one and many:
            result["class"]["speedup"] = one / many
    return result


# --------------------------------------------------------------------- conv net

CONV_BATCH = 32


def bench_convnet(torch_too: bool) -> list[dict]:
    from course_lib import convnet
    from course_lib import norm_experiments as nx
    from course_lib.network import make_optimizer

    torch = _torch() if torch_too else None
    data = nx.digit_images()
    X, y = np.array(data.X_train[:CONV_BATCH]), np.array(data.y_train[:CONV_BATCH])
    rows = []
    for norm in ("batch", "group", None):
        model = nx.make_convnet(norm, seeds=0)
        opt = make_optimizer(nx.OPTIMIZER, 0.01)
        row = {
            "network": f"conv {nx.CHANNELS[0]}-{nx.CHANNELS[1]}, dense {nx.HIDDEN}",
            "norm": nx.NAMES[norm],
            "batch": CONV_BATCH,
            "dtype": "float64",
            "numpy_ms": 1e3
            * measure(lambda m=model, o=opt: convnet.train_step(m, o, X, y))["median"],
        }
        if torch is not None:
            row.update(_measure_torch(torch, _torch_convnet(torch, X, y, norm)))
            row["numpy_over_torch"] = row["numpy_ms"] / row["torch_ms"]
        rows.append(row)
        print(f"  convnet {row['norm']}: {row['numpy_ms']:.3f} ms", file=sys.stderr)
    return rows


def _torch_convnet(torch, X, y, norm):
    """Lesson 06's network in PyTorch (float64, NCHW), SGD with momentum 0.9."""
    from torch import nn

    from course_lib import norm_experiments as nx

    def normalization(c: int, dense: bool):
        if norm == "batch":
            return (nn.BatchNorm1d if dense else nn.BatchNorm2d)(c, momentum=0.1, eps=1e-5)
        if norm == "group":
            return nn.GroupNorm(nx.GROUPS, c, eps=1e-5)
        return nn.Identity()

    torch.manual_seed(0)
    bias = norm is None
    c1, c2 = nx.CHANNELS
    model = nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, bias=bias), normalization(c1, False), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1, bias=bias), normalization(c2, False), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * 4, nx.HIDDEN, bias=bias), normalization(nx.HIDDEN, True), nn.ReLU(),
        nn.Linear(nx.HIDDEN, 10),
    ).double().train()  # fmt: skip
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X).reshape(-1, 1, 8, 8), torch.from_numpy(y)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(Xt), yt)
        loss.backward()
        opt.step()

    return step


# --------------------------------------------------------------------- report


def _torch_head(threads: str) -> str:
    return f"{'torch ms':>10}{'numpy/torch':>13}{'torch ' + threads:>16}"


def _torch_cells(row: dict, numpy_over_torch: float | None) -> str:
    """The PyTorch columns of a table row (blank where PyTorch did not run)."""
    return (
        f"{_fmt(row.get('torch_ms')):>10}{_fmt(numpy_over_torch):>13}"
        f"{_fmt(row.get('torch_default_threads_ms')):>16}"
    )


def _fmt(value: float | None, unit: str = "", digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}{unit}"


def _pool(pool: dict) -> str:
    """One thread pool (BLAS, OpenMP) as text, e.g. "openblas 0.3.31 (Haswell, 2 threads)"."""
    name = " ".join(str(pool[k]) for k in ("internal_api", "version") if pool.get(k))
    details = [pool.get("architecture"), f"{pool.get('num_threads')} threads"]
    return f"{name} ({', '.join(d for d in details if d)})"


def _step_table(rows: list[dict], title: str, column: str, label, threads) -> list[str]:
    """The lines of one training-step table: numpy ms per row, PyTorch beside it if timed."""
    torch = any("torch_ms" in r for r in rows)
    head = f"  {column:<40}{'numpy ms':>10}" + (_torch_head(threads) if torch else "")
    lines = ["", title, head]
    for r in rows:
        line = f"  {label(r):<40}{_fmt(r['numpy_ms']):>10}"
        if torch:
            line += _torch_cells(r, r.get("numpy_over_torch"))
        lines.append(line)
    return lines


def table(results: dict) -> str:
    lines = []
    m = results["machine"]
    blas = ", ".join(_pool(b) for b in m["blas"])
    lines.append(f"Machine: {m['cpu']}, {m['logical_cores']} logical cores, Python {m['python']}")
    lines.append(f"numpy {m['numpy']}; thread pools: {blas or 'unknown'}")
    threads = f"{m.get('torch_threads')} thr ms"
    if "torch" in m:
        lines.append(
            f"PyTorch {m['torch']} (CPU, eager): 'torch ms' on 1 thread, as the numpy code "
            f"runs; also on its default {m['torch_threads']} threads"
        )
    if m["env"]:
        lines.append("Environment: " + " ".join(f"{k}={v}" for k, v in m["env"].items()))

    for key, edition in (("notebooks", ""), ("notebooks_zh_CN", ", Chinese edition")):
        if key not in results:
            continue
        nb = results[key]
        lines += ["", f"Notebook execution{edition} (fresh kernel, top to bottom)   seconds"]
        for entry in nb["lessons"].values():
            if "seconds" in entry:
                shown = f"{entry['seconds']:.1f}"
            else:
                shown = "missing" if entry.get("missing") else "skipped"
            lines.append(f"  {entry['notebook']:<46} {shown:>8}")
        total = f"{nb['total_s']:.1f}" + ("" if nb["complete"] else " (incomplete)")
        lines.append(f"  {'series total (target <= 90 s)':<46} {total:>8}")
        lines.append(
            f"  {'(of which kernel start, per notebook)':<46} {nb['kernel_start_s']:>8.1f}"
        )

    if "widgets" in results:
        lines += [
            "",
            "Widget update, slider.value = x, first visit of a value (target <= 100 ms)",
            f"  {'lesson':<7}{'widget':<46}{'median':>8}{'worst':>8}{'repeat':>8}{'build':>8}",
            f"  {'':<53}{'ms':>8}{'ms':>8}{'ms':>8}{'s':>8}",
        ]
        for number, entry in results["widgets"].items():
            widget = entry["widget"].removeprefix("course_lib.")
            if "error" in entry or "skipped" in entry:
                why = entry.get("error") or entry["skipped"]
                lines.append(f"  {number:<7}{widget:<46}  {why[:60]}")
                continue
            lines.append(
                f"  {number:<7}{widget:<46}{_fmt(entry['median_ms']):>8}"
                f"{_fmt(entry['worst_slider_ms']):>8}{_fmt(entry['repeat_ms']):>8}"
                f"{entry['build_s']:>8.2f}"
            )
        lines.append("  (worst: the slowest slider's median; repeat: values already shown)")

    if "bn" in results:
        torch = any("torch_ms" in r for r in results["bn"])
        head = f"  {'shape':<18}{'compact ms':>12}{'staged ms':>12}"
        if torch:
            head += _torch_head(threads)
        lines += ["", "Batch Norm forward + backward (median per call)", head]
        for r in results["bn"]:
            shape = f"{r['shape'][0]}x{r['shape'][1]} {r['dtype']}"
            line = f"  {shape:<18}{_fmt(r['compact_ms']):>12}{_fmt(r['staged_ms']):>12}"
            if torch:
                line += _torch_cells(r, r.get("compact_over_torch"))
            lines.append(line)
        lines += [
            "",
            "Batch Norm backward alone (median per call; x: times faster than staged)",
            f"  {'shape':<18}{'staged ms':>11}{'numpy compact ms':>18}{'x':>6}"
            f"{'compiled compact ms':>21}{'x':>6}",
        ]
        for r in results["bn"]:
            shape = f"{r['shape'][0]}x{r['shape'][1]} {r['dtype']}"
            lines.append(
                f"  {shape:<18}{_fmt(r['staged_backward_ms']):>11}"
                f"{_fmt(r['vectorized_backward_ms']):>18}{_fmt(r['vectorized_backward_speedup']):>6}"
                f"{_fmt(r['compact_backward_ms']):>21}{_fmt(r['backward_speedup']):>6}"
            )

    if "mlp" in results:
        lines += _step_table(
            results["mlp"],
            "One training step: forward + backward + update (median)",
            "network (batch 60, float64, SGD)",
            lambda r: r["network"] + (" + BN" if r["batchnorm"] else ""),
            threads,
        )
    if "grading" in results:
        g = results["grading"]
        lines += ["", "Autograding (nbgrader, the course's default limits, kernel start included)"]
        lines.append(f"  {'lesson':<34}{'s per submission':>18}{'CPU s':>8}")
        for entry in g["lessons"].values():
            lines.append(
                f"  {entry['assignment']:<34}{entry['seconds_per_submission']:>18.1f}"
                f"{entry.get('cpu_seconds_per_submission', float('nan')):>8.1f}"
            )
        c = g["class"]
        if c:
            mix = ", ".join(f"{v} {k}" for k, v in c["mix"].items())
            lines.append(f"  {c['submissions']} submissions of {c['assignment']} ({mix}):")
            for key in sorted(k for k in c if k.endswith("_workers_s")):
                n = int(key.split("_")[0])
                per_min = 60 * c["submissions"] / c[key]
                cpu = c.get(f"{n}_workers_cpu_s", float("nan")) / c["submissions"]
                lines.append(
                    f"    {n} worker(s): {c[key]:7.0f} s wall, {per_min:5.1f} submissions/min,"
                    f" {cpu:.1f} CPU s per submission"
                )
            if "speedup" in c:
                lines.append(f"    speed-up with 2 workers: {c['speedup']:.2f}x")

    if "convnet" in results:
        lines += _step_table(
            results["convnet"],
            "One training step of the conv net (target: numpy <= 3x torch ms)",
            "lesson 06 conv net (batch 32, float64)",
            lambda r: f"{r['network']}, {r['norm']}",
            threads,
        )
    lines += ["", f"Benchmark run took {results['took_s']:.0f} s."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", nargs="*", default=[], choices=PARTS)
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench.json")
    parser.add_argument(
        "--grading-class", type=int, default=100, help="simulated submissions (lesson 03)"
    )
    args = parser.parse_args(argv)
    torch_too = not args.no_torch and _torch() is not None
    start = time.perf_counter()
    results: dict = {"machine": machine()}
    if "notebooks" not in args.skip:
        results["notebooks"] = bench_notebooks()
        results["notebooks_zh_CN"] = bench_notebooks("zh_CN")
    if "widgets" not in args.skip:
        results["widgets"] = bench_widgets()
    _grow_malloc_threshold()
    if "bn" not in args.skip:
        results["bn"] = bench_bn(torch_too)
    if "mlp" not in args.skip:
        results["mlp"] = bench_mlp(torch_too)
    if "grading" not in args.skip:
        results["grading"] = bench_grading(args.grading_class)
    if "convnet" not in args.skip:
        results["convnet"] = bench_convnet(torch_too)
    results["took_s"] = time.perf_counter() - start
    print(table(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(
        f"Written to {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
