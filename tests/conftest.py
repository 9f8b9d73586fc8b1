"""Shared test settings."""

from hypothesis import settings

# Property tests draw the same examples on every run: a red CI is reproducible,
# never a lucky draw. (`--hypothesis-seed` or another profile explores further.)
settings.register_profile("course", derandomize=True, print_blob=True)
settings.load_profile("course")
