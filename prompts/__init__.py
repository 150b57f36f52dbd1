"""Prompt templates, one file each, read by `rag.answer.load_prompt` and `rag.digest.load_prompt`."""
