"""The `curl` and `kv` examples of the README and the docs pages, run verbatim (but for the
address) in the order shown, on a fresh kv-server and again on the same server once used.

In a console block, each `$ COMMAND` line is followed by what it prints (stdout and stderr).
Revisions depend on the store's history, so the pages show them as placeholders R1, R2, ...:
within one page each stands for one number, and a higher placeholder for a higher revision.
"""

from __future__ import annotations

import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import BIN, KvServer, free_port, start_kv_server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# The pages whose examples are run; each must leave the keys it writes as it found them.
PAGES = [
    ROOT / "README.md",
    ROOT / "docs" / "http-api.md",
    ROOT / "docs" / "cli.md",
    ROOT / "docs" / "listing-and-ttl.md",
]
TOOLS = ("curl", "kv")
PLACEHOLDER = re.compile(r"\bR(\d+)\b")
COMMAND_TIMEOUT = 60


def console_examples(page: Path, tools: tuple[str, ...] = TOOLS) -> list[tuple[str, str]]:
    """(command, expected output) for every `$ TOOL ...` line in the page's console blocks."""
    examples: list[tuple[str, str]] = []
    for block in re.findall(r"```console\n(.*?)```", page.read_text(), flags=re.DOTALL):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            if command.split(" ", 1)[0] in tools:
                examples.append((command, output.rstrip("\n")))
    return examples


def matches(expected: str, printed: str, revisions: dict[int, int]) -> bool:
    """Whether `printed` is `expected` with each placeholder Rn a number, the same for the
    same n (kept in `revisions` across the page), higher for a higher n."""
    pattern, seen = [], set()
    for index, part in enumerate(PLACEHOLDER.split(expected)):
        if index % 2 == 0:
            pattern.append(re.escape(part))
        elif part in seen:  # the same placeholder again in this output: the same number
            pattern.append(f"(?P=R{part})")
        else:
            seen.add(part)
            pattern.append(f"(?P<R{part}>\\d+)")
    found = re.fullmatch("".join(pattern), printed)
    if found is None:
        return False
    for name, number in found.groupdict().items():
        if revisions.setdefault(int(name[1:]), int(number)) != int(number):
            return False
    ordered = [revisions[n] for n in sorted(revisions)]
    return ordered == sorted(set(ordered))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KvServer]:
    served = start_kv_server(
        tmp_path, {"TRANSPORT": "http,grpc,resp", "KV_RESP_PORT": str(free_port())}
    )
    yield served
    served.process.stop()


def run_page(page: Path, server: KvServer) -> None:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "KV_URL": server.url,
        "KV_GRPC_TARGET": server.grpc_target,
        "KV_RESP_URL": f"redis://127.0.0.1:{server.process.env['KV_RESP_PORT']}",
    }
    revisions: dict[int, int] = {}
    for command, expected in console_examples(page):
        run = subprocess.run(
            ["bash", "-c", command.replace("localhost:8080", f"127.0.0.1:{server.http_port}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        printed = "\n".join(line.rstrip("\r") for line in run.stdout.splitlines())
        assert matches(expected, printed, revisions), (
            f"{page.name}: {command}\nexpected: {expected}\nprinted:  {printed}"
        )


def test_the_pages_have_examples() -> None:
    assert len(console_examples(PAGES[0], ("curl",))) >= 3
    assert len(console_examples(ROOT / "docs" / "http-api.md", ("curl",))) >= 10
    assert len(console_examples(ROOT / "docs" / "cli.md", ("kv",))) >= 5


def test_placeholders_stand_for_increasing_revisions() -> None:
    revisions: dict[int, int] = {}
    assert matches('{"revision":R1} at R1', '{"revision":7} at 7', revisions)
    assert not matches('{"revision":R1} at R1', '{"revision":7} at 8', {})
    assert matches('"revision":R2', '"revision":9', revisions)
    assert not matches('"revision":R3', '"revision":8', revisions)  # R3 must be above R2
    assert not matches('"revision":R1', '"revision":8', revisions)  # R1 is 7
    assert not matches('"revision":1', '"revision":7', {})


def test_every_example_runs_in_order_on_a_fresh_then_a_used_server(server: KvServer) -> None:
    for page in PAGES:
        run_page(page, server)
    # Used: other keys written and the revision moved on, then every page again.
    for n in range(3):
        body = f'{{"value": {n}}}'.encode()
        request = urllib.request.Request(
            f"{server.url}/v1/kv/readme-test/other-{n}",
            data=body,
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=COMMAND_TIMEOUT) as response:
            assert response.status in (200, 201)
    for page in PAGES:
        run_page(page, server)
