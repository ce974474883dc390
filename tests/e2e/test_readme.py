"""The README's curl examples, run verbatim (but for the port) against a real kv-server."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.servers import KvServer

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def console_examples(tool: str) -> list[tuple[str, str]]:
    """(command, expected output) for every `$ TOOL ...` line in the README's console blocks."""
    examples: list[tuple[str, str]] = []
    for block in re.findall(r"```console\n(.*?)```", README.read_text(), flags=re.DOTALL):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            if command.startswith(tool + " "):
                examples.append((command, output))
    return examples


def test_the_readme_has_curl_examples() -> None:
    assert len(console_examples("curl")) >= 10


def test_every_curl_example_gives_the_documented_answer(kv_server: KvServer) -> None:
    address = f"127.0.0.1:{kv_server.http_port}"
    for command, expected in console_examples("curl"):
        run = subprocess.run(
            ["bash", "-c", command.replace("localhost:8080", address)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        printed = "\n".join(line.rstrip("\r") for line in run.stdout.splitlines())
        assert printed == expected.rstrip("\n"), command
