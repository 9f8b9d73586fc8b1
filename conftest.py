"""nbval's settings, for every way pytest is started from the repository (``make test``,
``pytest notebooks/04_batch_norm_in_a_network.ipynb``, ``make test-cpus``).

The flags (strict nbval, the current environment's kernel, the sanitize file) are in
``pyproject.toml``'s ``addopts``; the kernel's environment is set here, the same as
``make outputs`` runs the notebooks with (``scripts/run_notebooks.py``).
"""

import os

# Kernels inherit this process's environment: figures inline (no MPLBACKEND, which
# would override the notebook's backend) and a fixed hash seed.
os.environ.pop("MPLBACKEND", None)
os.environ["PYTHONHASHSEED"] = "0"
