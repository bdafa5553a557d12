"""Measurements (speed, matching quality); run from the repository root, e.g. ``python -m bench.ingest``."""
