"""Run nbval over the notebooks as other machines would compute them (``make test-cpus``).

    python scripts/cpu_variants.py                 # every variant this CPU can run
    python scripts/cpu_variants.py --list          # the variants, and which apply here
    python scripts/cpu_variants.py --only avx2     # one variant (name as --list prints)
    python scripts/cpu_variants.py -- notebooks/04_batch_norm_in_a_network.ipynb

Learners' laptops, JupyterHub servers and Binder compute the lessons with other
floating-point kernels than the machine that stored the outputs: the BLAS kernel that
OpenBLAS picks at run time, numpy's own SIMD code paths (``np.exp``, reductions), the
number of BLAS threads, and for lesson 07 PyTorch's own SIMD level
(``ATEN_CPU_CAPABILITY``) and the instruction set of the MKL inside it
(``MKL_ENABLE_INSTRUCTIONS``). Their last bits differ, so a stored output that shows round-off
digits, or an experiment that swings with the last bit, fails there. Each variant below
re-executes every notebook under nbval strict (``make test``'s settings) with one such
machine simulated through environment variables, and checks that the simulation took
effect (the kernel OpenBLAS reports). Apple's Accelerate and ARM kernels cannot be run
here: the notebooks are written so that no printed digit depends on round-off
(DESIGN.md, "Stored outputs reproduce on every machine"), and these variants test it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lesson_notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


# numpy 2.x dispatch targets above the x86-64-v2 baseline (np.show_runtime() lists them).
NUMPY_AVX512 = "X86_V4 AVX512_ICL AVX512_SPR"
NUMPY_ABOVE_BASELINE = "X86_V3 " + NUMPY_AVX512


@dataclass(frozen=True)
class Variant:
    name: str
    machine: str  # what it stands for
    coretype: str  # OPENBLAS_CORETYPE
    needs: str  # the CPU flag (/proc/cpuinfo) the kernel executes with
    env: dict = field(default_factory=dict)

    def environment(self) -> dict:
        return {"OPENBLAS_CORETYPE": self.coretype, **self.env}


VARIANTS = (
    Variant(
        "sse",
        "an older or low-power x86 laptop: Sandybridge BLAS, numpy's baseline SIMD, 1 thread; "
        "PyTorch without AVX",
        "Sandybridge",
        "avx",
        {
            "NPY_DISABLE_CPU_FEATURES": NUMPY_ABOVE_BASELINE,
            "OPENBLAS_NUM_THREADS": "1",
            "ATEN_CPU_CAPABILITY": "default",
            "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
        },
    ),
    Variant(
        "avx2",
        "an AVX2 machine (most laptops, AMD Zen servers): Haswell BLAS, numpy AVX2, 2 threads; "
        "PyTorch AVX2",
        "Haswell",
        "avx2",
        {
            "NPY_DISABLE_CPU_FEATURES": NUMPY_AVX512,
            "OPENBLAS_NUM_THREADS": "2",
            "ATEN_CPU_CAPABILITY": "avx2",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        },
    ),
    Variant(
        "avx512",
        "an AVX-512 Intel server: SkylakeX BLAS, numpy AVX-512, 3 threads (more than cores); "
        "PyTorch AVX-512",
        "SkylakeX",
        "avx512f",
        {
            "OPENBLAS_NUM_THREADS": "3",
            "ATEN_CPU_CAPABILITY": "avx512",
            "MKL_ENABLE_INSTRUCTIONS": "AVX512",
        },
    ),
)


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def runnable(variants=VARIANTS) -> list[Variant]:
    flags = cpu_flags()
    return [v for v in variants if v.needs in flags]


def reported_kernel(env: dict) -> str:
    """The kernel OpenBLAS reports under ``env`` (proves that the simulation took effect)."""
    code = "import threadpoolctl, numpy; print(threadpoolctl.threadpool_info()[0]['architecture'])"
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
    )
    return done.stdout.strip() or f"unknown ({done.stderr.strip()[-200:]})"


def reported_torch_level(env: dict) -> str | None:
    """The SIMD level PyTorch reports under ``env``, or None without PyTorch."""
    code = (
        "import importlib.util, sys\n"
        "if importlib.util.find_spec('torch') is None: sys.exit(0)\n"
        "import torch; print(torch.backends.cpu.get_cpu_capability())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
    )
    return done.stdout.strip() or None


def run_variant(variant: Variant, pytest_args: list[str]) -> dict:
    env = {**os.environ, **variant.environment()}
    kernel = reported_kernel(variant.environment())
    if kernel.lower() != variant.coretype.lower():
        return {"variant": variant.name, "ok": False, "why": f"OpenBLAS reports {kernel}"}
    wanted = variant.env.get("ATEN_CPU_CAPABILITY")
    level = reported_torch_level(variant.environment())
    if level is not None and wanted and level.lower() != wanted.lower():
        return {"variant": variant.name, "ok": False, "why": f"PyTorch reports {level}"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    return {
        "variant": variant.name,
        "ok": done.returncode == 0,
        "kernel": kernel,
        "seconds": round(took, 1),
        "summary": lines[-1] if lines else done.stderr.strip()[-300:],
        "failed": failed,
        "output": "" if done.returncode == 0 else done.stdout[-6000:],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--only", action="append", default=[], help="run this variant only")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--jobs", type=int, default=2, help="variants run at the same time (default 2)"
    )
    parser.add_argument("pytest_args", nargs="*", help="after --: what pytest runs")
    args = parser.parse_args(argv)
    here = runnable()
    if args.list:
        for v in VARIANTS:
            mark = "runs here" if v in here else f"needs {v.needs}: not on this CPU"
            print(f"{v.name:7s} {mark:28s} {v.machine}")
        return 0
    chosen = [v for v in here if not args.only or v.name in args.only]
    if args.only and len(chosen) != len(args.only):
        print(f"not runnable here: {sorted(set(args.only) - {v.name for v in chosen})}")
        return 2
    if len(chosen) < min(3, len(VARIANTS)) and not args.only:
        print(f"only {len(chosen)} variant(s) run on this CPU: {[v.name for v in chosen]}")
    # The English lessons. The Chinese ones (notebooks/zh_CN) run the same code cells on
    # the same data, so they print the same numbers; make test checks them on this CPU.
    targets = args.pytest_args or [str(p.relative_to(ROOT)) for p in lesson_notebooks()]
    for variant in chosen:
        print(f"{variant.name}: {variant.machine}", flush=True)
    # Each variant is one nbval run in its own processes: two at a time on two cores.
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda v: run_variant(v, targets), chosen))
    for variant, result in zip(chosen, results, strict=True):
        state = "passed" if result["ok"] else "FAILED"
        print(
            f"{variant.name}: {state}: {result.get('summary', result.get('why'))} "
            f"(OpenBLAS {result.get('kernel', '?')}, {result.get('seconds', 0)} s)",
            flush=True,
        )
        for line in result.get("failed", []):
            print(f"    {line}")
        if not result["ok"] and result.get("output"):
            print(result["output"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if results and all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
