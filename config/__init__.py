"""Default settings and named presets, shipped as TOML files (see rag/settings.py)."""
