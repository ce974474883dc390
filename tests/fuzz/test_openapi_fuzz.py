"""Schemathesis against a real `kv-server`, from the server's own GET /openapi.json.

Every operation of the document gets generated requests, valid and invalid
(examples, coverage, fuzzing and stateful phases): no answer may be a 5xx,
and every answer must match the document (status, content type, headers,
JSON schema); invalid requests must be refused with a 4xx, a deleted key
must be gone. `make test` runs a bounded number of examples per operation;
`make fuzz` runs it at length (KV_FUZZ_EXAMPLES=1000).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.servers import KvServer, script

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("KV_FUZZ_EXAMPLES", "150"))
# Bounds the whole run even on a loaded machine; `make fuzz` allows more.
RUN_TIMEOUT = float(os.environ.get("KV_FUZZ_TIMEOUT", "480"))
CHECKS = "all"
# positive_data_acceptance expects 2xx for any request the document allows,
# but 404/409/412 are the right answers to a valid request on the wrong state
# (a missing key, a revision that moved on): they are documented, and
# status_code_conformance holds the API to them. The authorization checks
# have nothing to check: the API has no authentication.
EXCLUDED_CHECKS = "positive_data_acceptance,ignored_auth,object_level_authorization"


def test_no_server_error_and_every_answer_as_documented(
    kv_server: KvServer, tmp_path: Path
) -> None:
    report = tmp_path / "schemathesis.ndjson"
    finished = subprocess.run(
        [
            script("st"),
            "run",
            f"{kv_server.url}/openapi.json",
            f"--max-examples={EXAMPLES}",
            f"--checks={CHECKS}",
            f"--exclude-checks={EXCLUDED_CHECKS}",
            "--workers=1",
            "--request-timeout=30",
            "--generation-database=none",
            "--report=ndjson",
            f"--report-ndjson-path={report}",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
        cwd=tmp_path,
    )
    assert finished.returncode == 0, finished.stdout[-20_000:] + finished.stderr[-5_000:]
    counts = requests_per_operation(report)
    print("schemathesis requests per operation:", json.dumps(counts, sort_keys=True))
    operations = {
        f"{method.upper()} {path}"
        for path, item in json.loads(_fetch(kv_server.url + "/openapi.json"))["paths"].items()
        for method in item
    }
    assert set(counts) == operations, "every documented operation was fuzzed"
    assert "Internal" not in kv_server.process.log()


def requests_per_operation(report: Path) -> dict[str, int]:
    """How many requests the run sent per operation, from its NDJSON event report."""
    counts: Counter[str] = Counter()
    for line in report.read_text().splitlines():
        _count_cases(json.loads(line), counts)
    return dict(counts)


def _count_cases(event: object, counts: Counter[str]) -> None:
    """Walk an event for recorded interactions (a request with its method and URL path)."""
    if isinstance(event, dict):
        label = event.get("label")
        interactions = event.get("interactions")
        if isinstance(label, str) and isinstance(interactions, dict):
            counts[label] += len(interactions)
        for value in event.values():
            _count_cases(value, counts)
    elif isinstance(event, list):
        for value in event:
            _count_cases(value, counts)


def _fetch(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())
