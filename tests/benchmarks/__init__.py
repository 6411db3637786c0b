"""Hand-run benchmarks (issue #9); pytest skips this folder (see pyproject.toml)."""
