# One entry point. On a fresh machine with Python 3.11 and make:
#   make lab    set up .venv if needed, open JupyterLab on the exercise versions
#   make test   set up .venv if needed, run lint + the whole test suite
# Everything else is for the people who change or teach the course.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB     ?=
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI often are root.
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root)

# PyTorch for lesson 07 (optional), CPU build. The exact "+cpu" version can only be the CPU
# wheel: pip never falls back to a multi-GB CUDA build. A wheel in the machine's pip
# configuration (find-links) is used first; else PyTorch's CPU index. macOS: the default
# wheel (it has no CUDA).
TORCH_VERSION := 2.13.0
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu

.PHONY: help lab lab-zh lab-worked zh student-zh test test-cpus lint format outputs sync assets student lab-student slides slides-pdf html bench classroom grade clean torch

help:
	@echo "make lab | lab-zh | lab-worked | test | zh [NB=03] | student-zh | test-cpus | torch | outputs [NB=03] | assets | student | lab-student | slides | slides-pdf [STUDENT=1] | html [STUDENT=1] | bench | classroom | grade A=03_... COURSE=dir | clean"

# The environment: exact versions from requirements.lock, the course package editable.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Learners start in the exercise versions (release/, solutions out); a notebook
# edited there is kept. The worked versions are one deliberate step away: lab-worked.
lab: student
	$(BIN)/jupyter lab $(ROOT_ARG) $(LAB_ARGS) --ServerApp.root_dir=release

# 中文版: the Chinese exercise versions (release/zh_CN/) in JupyterLab's Chinese interface
# (the zh-CN language pack; this launch only: its own settings folder under build/).
LAB_ZH_SETTINGS := build/lab-zh_CN/settings
lab-zh: student-zh
	@mkdir -p $(LAB_ZH_SETTINGS)/@jupyterlab/translation-extension
	@echo '{"locale": "zh_CN"}' > $(LAB_ZH_SETTINGS)/@jupyterlab/translation-extension/plugin.jupyterlab-settings
	JUPYTERLAB_SETTINGS_DIR=$(LAB_ZH_SETTINGS) COURSE_LANG=zh_CN \
	  $(BIN)/jupyter lab $(ROOT_ARG) $(LAB_ARGS) --ServerApp.root_dir=release/zh_CN

# The worked (instructor) versions, solutions and outputs in: for lecturers, for
# instructors, and for learners who want to compare after trying.
lab-worked: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_ARG) $(LAB_ARGS) --ServerApp.root_dir=notebooks

# Lesson 07 and the PyTorch oracle tests need it; without it `make test` skips them and says so.
torch: $(STAMP)
ifeq ($(shell uname -s),Darwin)
	$(BIN)/python -m pip install --disable-pip-version-check "torch==$(TORCH_VERSION)"
else
	$(BIN)/python -m pip install --disable-pip-version-check "torch==$(TORCH_VERSION)+cpu" \
	  || $(BIN)/python -m pip install --disable-pip-version-check "torch==$(TORCH_VERSION)+cpu" \
	       --extra-index-url $(TORCH_CPU_INDEX)
endif

# Two pytest runs side by side (the lessons' kernels, the rest): see scripts/run_tests.py.
test: $(STAMP) lint
	$(BIN)/python scripts/run_tests.py

# nbval over every notebook as other machines compute it: other OpenBLAS kernels,
# numpy SIMD levels and thread counts (the stored outputs must not depend on them).
test-cpus: $(STAMP)
	$(BIN)/python scripts/cpu_variants.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-execute notebooks (all, or NB=03) from their .py sources; store clean outputs.
outputs: $(STAMP)
	$(BIN)/python scripts/run_notebooks.py $(NB)

# Bring .py sources and .ipynb notebooks in step after editing either one.
sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.ipynb  # sources in notebooks/src/

assets: $(STAMP)
	$(BIN)/python scripts/make_assets.py

# The exercise versions (nbgrader release: solutions out, hidden tests out) in release/.
# A notebook you have edited there is kept; scripts/release.py --force replaces it.
student: $(STAMP)
	$(BIN)/python scripts/release.py

# The Chinese edition's exercise versions (from notebooks/zh_CN) in release/zh_CN/.
student-zh: $(STAMP)
	$(BIN)/python scripts/release.py --language zh_CN

# The Chinese notebooks notebooks/zh_CN/NN_name.ipynb from the English ones and the
# catalogs in locales/zh_CN/ (every fully translated lesson, or NB=03), executed in Chinese.
# `python scripts/i18n.py check` lists what is not translated; `update` merges new English.
zh: $(STAMP)
	$(BIN)/python scripts/i18n.py build $(NB)

# The same as lab (kept for old instructions).
lab-student: lab

# Slides (build/slides/), their PDFs (build/slides-pdf/) and the course site (build/html/),
# from the stored notebooks; STUDENT=1: from the exercise versions, into build/student/.
SITE_ARGS := $(if $(STUDENT),--student)
SITE_DEPS := $(STAMP) $(if $(STUDENT),student)

slides: $(SITE_DEPS)
	$(BIN)/python scripts/build_site.py slides $(SITE_ARGS)

slides-pdf: $(SITE_DEPS)
	$(BIN)/python scripts/build_site.py pdf $(SITE_ARGS)

html: $(SITE_DEPS)
	$(BIN)/python scripts/build_site.py html $(SITE_ARGS)

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

# A real class JupyterHub on this machine, taken through a lesson cycle and attacked
# (scripts/classroom.py). Needs root: it makes Unix accounts; it removes everything
# it made at the end, also after a failure or Ctrl-C. A few minutes.
classroom: $(STAMP)
	$(BIN)/python scripts/classroom.py

# Autograde lesson A for every student of the course directory COURSE, in parallel
# (WORKERS at a time, default: the cores); resumes where an interrupted run stopped.
A ?=
COURSE ?= .
WORKERS ?=
grade: $(STAMP)
	$(BIN)/python scripts/grade_class.py $(A) --course-dir $(COURSE) $(if $(WORKERS),--workers $(WORKERS))

clean:
	rm -rf build  # release/ holds learners' work: delete it by hand
