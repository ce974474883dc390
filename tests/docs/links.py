"""Every repository path and `#anchor` the docs and the code's comments name must exist.

What counts as a reference:

- in a Markdown file, a link or image target (`[text](path#anchor)`, `[label]: path`),
  relative to the file, `#anchor` alone meaning a heading of the file itself; and a path
  written in the text (`tests/e2e/test_readme.py`, `docs/etcd.md#watch`), relative to the
  repository's root;
- in a Python comment or docstring (src/, tests/, bench/) and in the console's scripts, a
  path written in the text;
- in either, a Markdown file named by its name alone (`etcd.md`): some Markdown file of the
  repository must have that name (a page kept elsewhere is not part of these docs).

A path in the text starts with one of the repository's top-level directories (`src/`,
`tests/`, `docs/`, ...) or with a package under src/ (`kv/`, `testclient/`, also looked up
under proto/ for the `.proto` files) and names a file (it has a suffix) or a directory (it
ends with `/`); a glob (`*`), a template (`{...}`) or a path with a part to fill in
(`adapters/NAME.py`) is not a reference. An anchor is checked against the headings of the
Markdown file it names, slugged as GitHub does: lower case, punctuation dropped, each space
a hyphen, a repeated heading suffixed `-1`, `-2`, ...
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = ("src", "tests", "docs", "bench", "proto", ".ci", "docker")
PACKAGES = ("kv", "testclient")
# Where a path that starts with a package is looked up.
PACKAGE_ROOTS = ("src", "proto")

_STARTS = "|".join(re.escape(top) for top in (*TOP_LEVEL, *PACKAGES))
_PATH = re.compile(r"(?<![\w./-])((?:" + _STARTS + r")/[\w./*{}-]*[\w/*}-](?:#[\w-]+)?)")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_ANCHOR_TAG = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
# A Markdown file named by its name alone (`etcd.md`, `README.md`).
_MARKDOWN_NAME = re.compile(r"(?<![\w./-])([\w-]+\.md)\b")
# A part of a path to fill in: in capitals (`SCENARIO/RUN-ID/`), or NAME in a file's name
# (`src/testclient/NAME_client.py`).
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_-]*(?:\.\w+)?$|(?:^|[_-])NAME(?:[_.-]|$)")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


# The base of a Markdown file named by its name alone: any file of that name will do.
MARKDOWN_NAMES = Path("<a Markdown file of the repository>")


@dataclass(frozen=True, slots=True)
class Reference:
    """A path (maybe with `#anchor`) named at `source`:`line`, resolved against `base`."""

    source: Path
    line: int
    target: str
    base: Path


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text (its inline Markdown already read as text)."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def heading_text(markdown: str) -> str:
    """The text of a heading's Markdown: links become their text, code and emphasis marks go."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"<[^>]+>", "", text)
    return text.replace("`", "").replace("*", "")


def outside_fences(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of a Markdown text, lines of fenced code blocks left out."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        opening = _FENCE.match(line)
        if opening is not None and (fence is None or opening.group(1) == fence):
            fence = opening.group(1) if fence is None else None
            continue
        if fence is None:
            yield number, line


def anchors(markdown_file: Path) -> set[str]:
    """Every anchor a Markdown file offers: its headings' slugs and its `<a name=...>` tags."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    text = markdown_file.read_text(encoding="utf-8")
    for _, line in outside_fences(text):
        heading = _HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading_text(heading.group(2)))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    found.update(_ANCHOR_TAG.findall(text))
    return found


def markdown_references(path: Path, root: Path) -> Iterator[Reference]:
    """The links of a Markdown file (relative to it) and the repository paths in its text."""
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        for target in _LINK.findall(line):
            if not _SCHEME.match(target):
                yield Reference(path, number, target, path.parent)
    for match in _REFERENCE.finditer(text):
        target = match.group(1)
        if not _SCHEME.match(target):
            number = text.count("\n", 0, match.start()) + 1
            yield Reference(path, number, target, path.parent)
    for number, line in enumerate(text.splitlines(), 1):
        without_links = _LINK.sub("", line)
        for target in _PATH.findall(without_links):
            yield Reference(path, number, target, root)
        for name in _MARKDOWN_NAME.findall(without_links):
            yield Reference(path, number, name, MARKDOWN_NAMES)


def python_comments(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of each comment and docstring of a Python file."""
    source = path.read_text(encoding="utf-8")
    previous = tokenize.NEWLINE
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
        elif token.type == tokenize.STRING and previous in {
            tokenize.NEWLINE,
            tokenize.NL,
            tokenize.INDENT,
            tokenize.DEDENT,
        }:
            # A string that is a statement of its own: a docstring.
            for offset, line in enumerate(token.string.splitlines()):
                yield token.start[0] + offset, line
        if token.type not in {tokenize.COMMENT, tokenize.NL}:
            previous = token.type


def text_references(
    path: Path, lines: Iterator[tuple[int, str]], root: Path
) -> Iterator[Reference]:
    for number, line in lines:
        for target in _PATH.findall(line):
            yield Reference(path, number, target, root)
        for name in _MARKDOWN_NAME.findall(line):
            yield Reference(path, number, name, MARKDOWN_NAMES)


def is_reference(path: str) -> bool:
    """A path in the text names a file or directory, and is no glob, template or placeholder."""
    if any(mark in path for mark in "*{}"):
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return path.endswith("/") or "." in last.strip(".")


def candidates(reference: Reference, root: Path) -> list[Path]:
    """Where the path of a reference may be: one place, or for a package path, each root."""
    path = reference.target.partition("#")[0]
    if reference.base == root and path.split("/", 1)[0] in PACKAGES:
        return [root / package_root / path for package_root in PACKAGE_ROOTS]
    return [reference.base / path]


def problem(reference: Reference, root: Path) -> str | None:
    """Why a reference is broken, or None when what it names exists."""
    if reference.base == MARKDOWN_NAMES:
        names = {path.name for path in markdown_files(root)}
        if reference.target in names:
            return None
        return f"no Markdown file of that name in the repository: {reference.target}"
    path, _, anchor = reference.target.partition("#")
    if reference.base == root:
        path = path.rstrip(".,;:")
        if not is_reference(path):
            return None
    found = next((place for place in candidates(reference, root) if place.exists()), None)
    if path and found is None:
        if any(_PLACEHOLDER.search(part) for part in path.split("/")):
            return None
        return f"no such file or directory: {path}"
    if anchor:
        target = found if path else reference.source
        assert target is not None
        if target.suffix != ".md":
            return None  # an anchor into code (a line, a symbol) is not a heading
        if anchor not in anchors(target):
            return f"no heading #{anchor} in {target.relative_to(root)}"
    return None


def markdown_files(root: Path) -> list[Path]:
    found = [root / "README.md"] if (root / "README.md").exists() else []
    for directory in ("docs", "proto"):
        found.extend(sorted((root / directory).rglob("*.md")))
    return found


def commented_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory in ("src", "tests", "bench"):
        found.extend(sorted((root / directory).rglob("*.py")))
        found.extend(sorted((root / directory).rglob("*.js")))
    return found


def references(root: Path) -> Iterator[Reference]:
    for path in markdown_files(root):
        yield from markdown_references(path, root)
    for path in commented_files(root):
        if path.suffix == ".py":
            yield from text_references(path, python_comments(path), root)
        else:
            lines = enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            yield from text_references(path, lines, root)


def broken_references(root: Path = ROOT) -> list[str]:
    """`file:line: target: why` for every reference under `root` that names nothing."""
    broken = []
    for reference in references(root):
        why = problem(reference, root)
        if why is not None:
            where = reference.source.relative_to(root)
            broken.append(f"{where}:{reference.line}: {reference.target}: {why}")
    return broken
