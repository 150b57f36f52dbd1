"""Prompt templates, one file each. `load` reads one by name."""

from importlib import resources


def load(name: str) -> str:
    return (resources.files("prompts") / f"{name}.txt").read_text(encoding="utf-8")
