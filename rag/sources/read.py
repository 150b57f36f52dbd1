"""Read sources: files, directories (the registered formats' files, by name) and http(s)
URLs, each in its format (`registry`). A location that cannot be read becomes an error
entry; the others are still read."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path

from rag.sources.base import ParseResult, SourceError
from rag.sources.http import FetchError, fetch_url, is_url
from rag.sources.registry import SOURCE_SUFFIXES, parse_text, parser_for_suffix


def _decode(data: bytes, source: str, errors: list[SourceError]) -> str:
    """UTF-8 text (BOM dropped); bad bytes become U+FFFD and one error, the rest is kept."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        errors.append(SourceError(source=source, line=line, message="invalid UTF-8; bad bytes replaced"))
        return data.decode("utf-8-sig", errors="replace")


def _read_file(path: Path) -> ParseResult:
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ParseResult(errors=[SourceError(source=source, line=None, message=f"cannot read file: {exc.strerror or exc}")])
    decode_errors: list[SourceError] = []
    text = _decode(data, source, decode_errors)
    # The suffix says which format was meant, so a broken .json file is reported as
    # broken JSON rather than read as a listing full of junk lines.
    parse = parser_for_suffix(path.suffix.lower())
    result = parse(text, source)
    result.errors[:0] = decode_errors
    return result


def _directory_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in SOURCE_SUFFIXES)


def read_sources(locations: Iterable[str | Path], fetch: Callable[[str], bytes] = fetch_url) -> ParseResult:
    """Read every location: a file, a directory (its *.txt/*.json/*.xml/*.atom files,
    sorted by name), or an http(s) URL. A location that cannot be read becomes one
    error (line None) and the others are still read."""
    result = ParseResult()
    for location in locations:
        location = str(location)
        if is_url(location):
            try:
                data = fetch(location)
            except Exception as exc:  # noqa: BLE001 - any failure of one URL must not stop the others
                message = str(exc) if isinstance(exc, FetchError) else f"cannot fetch {location}: {exc}"
                result.errors.append(SourceError(source=location, line=None, message=message))
                continue
            part = ParseResult()
            text = _decode(data, location, part.errors)
            part.extend(parse_text(text, location))
            result.extend(part)
            continue

        path = Path(location).expanduser()
        if path.is_dir():
            try:
                files = _directory_files(path)
            except OSError as exc:
                result.errors.append(SourceError(source=location, line=None, message=f"cannot list directory: {exc.strerror or exc}"))
                continue
            if not files:
                result.errors.append(
                    SourceError(source=location, line=None, message=f"no {', '.join('*' + s for s in SOURCE_SUFFIXES)} files in directory")
                )
            for file in files:
                result.extend(_read_file(file))
        elif path.exists():
            result.extend(_read_file(path))
        else:
            result.errors.append(SourceError(source=location, line=None, message="no such file or directory"))
    return result


def bundled_corpus_dir() -> Path:
    """The sample corpus shipped inside the package (rag/corpus/*.txt)."""
    return Path(str(resources.files("rag").joinpath("corpus")))
