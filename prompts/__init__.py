"""Prompt templates, one file each, loaded with `rag.prompts.load_prompt(name)`."""
