"""The docs and the code's comments name only paths and anchors that exist (see links.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.links import anchors, broken_references, slug


def test_every_path_and_anchor_named_in_the_repository_exists() -> None:
    broken = broken_references()
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Adding a transport", "adding-a-transport"),
        ("One request, through each transport", "one-request-through-each-transport"),
        ("kv over etcd: 3 members", "kv-over-etcd-3-members"),
        ("What `make test-fast` leaves out", "what-make-test-fast-leaves-out"),
        ("1,000 watchers", "1000-watchers"),
        (
            "Request scope, access log and metrics: what they cost",
            "request-scope-access-log-and-metrics-what-they-cost",
        ),
        ("snake_case stays", "snake_case-stays"),
    ],
)
def test_anchors_are_slugged_as_github_does(heading: str, anchor: str) -> None:
    assert slug(heading.replace("`", "")) == anchor


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small repository whose every reference holds."""
    write(
        tmp_path,
        "README.md",
        "# Demo\n\nSee [the guide](docs/guide.md#set-up), [below](#usage) and\n"
        "`tests/test_a.py`; guide.md has more.\n\n## Usage\n\n```sh\n# not a heading\n```\n",
    )
    write(tmp_path, "docs/guide.md", "# Guide\n\n## Set up\n\n## Set up\n\n[again](#set-up-1)\n")
    write(tmp_path, "docs/picture.png", "")
    write(
        tmp_path,
        "src/kv/module.py",
        '"""See docs/guide.md#set-up and `kv/other.py`."""\n\n'
        "# tests/test_a.py proves it; src/kv/adapters/NAME.py is to fill in, bench/*.lua a glob.\n"
        'KEY = "docs/not-a-reference.md"  # a string in the code, not a comment\n',
    )
    write(tmp_path, "src/kv/other.py", "")
    write(tmp_path, "tests/test_a.py", "")
    return tmp_path


def test_a_tree_whose_references_hold_passes(tree: Path) -> None:
    assert broken_references(tree) == []


@pytest.mark.parametrize(
    ("relative", "text", "expected"),
    [
        ("docs/extra.md", "[gone](missing.md)\n", "docs/extra.md:1: missing.md: no such file"),
        (
            "docs/extra.md",
            "[gone](guide.md#tear-down)\n",
            "docs/extra.md:1: guide.md#tear-down: no heading #tear-down in docs/guide.md",
        ),
        ("docs/extra.md", "# Extra\n\n[here](#nowhere)\n", "docs/extra.md:3: #nowhere: no heading"),
        (
            "docs/extra.md",
            "# Extra\n\n```sh\n# Inside\n```\n[x](#inside)\n",
            "docs/extra.md:6: #inside: no heading",
        ),
        ("docs/extra.md", "Run `tests/test_b.py`.\n", "docs/extra.md:1: tests/test_b.py: no such"),
        ("docs/extra.md", "![shot](picture.jpg)\n", "docs/extra.md:1: picture.jpg: no such"),
        ("docs/extra.md", "[ref]: ../docs/gone.md\n", "docs/extra.md:1: ../docs/gone.md: no such"),
        ("src/kv/new.py", '"""As docs/guide.md#usage says."""\n', "src/kv/new.py:1: docs/guide.md"),
        ("src/kv/new.py", "x = 1  # see kv/gone.py\n", "src/kv/new.py:1: kv/gone.py: no such"),
        ("tests/test_c.py", "# the README section\n# docs/old.md\n", "tests/test_c.py:2: docs/old"),
        ("src/kv/console/app.js", "// see docs/api.md\n", "src/kv/console/app.js:1: docs/api.md"),
        ("src/kv/new.py", '"""As other.md says."""\n', "src/kv/new.py:1: other.md: no Markdown"),
        ("docs/extra.md", "As other.md says.\n", "docs/extra.md:1: other.md: no Markdown"),
    ],
)
def test_a_broken_reference_is_reported(
    tree: Path, relative: str, text: str, expected: str
) -> None:
    write(tree, relative, text)
    broken = broken_references(tree)
    assert len(broken) == 1, broken
    assert broken[0].startswith(expected), broken


def test_headings_repeated_get_numbered_anchors(tree: Path) -> None:
    assert anchors(tree / "docs/guide.md") == {"guide", "set-up", "set-up-1"}
