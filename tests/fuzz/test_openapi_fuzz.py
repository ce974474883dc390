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
import re
import subprocess
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
# A watch is an endless stream: every generated request would last until the
# request timeout. Its answers are tested in tests/http/test_watch*.py instead
# (400 on bad parameters, 410 compacted, the events' shape against the document).
UNFUZZED_PATHS = ("/v1/watch",)
# Each request with a valid idempotency key gets a key of its own (the module says why).
HOOKS = Path(__file__).with_name("unique_idempotency_keys.py")


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
            *(f"--exclude-path={path}" for path in UNFUZZED_PATHS),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
    )
    assert finished.returncode == 0, finished.stdout[-20_000:] + finished.stderr[-5_000:]
    document = json.loads(_fetch(kv_server.url + "/openapi.json"))
    counts = requests_per_operation(report, document["paths"])
    print("\nschemathesis requests per operation:", json.dumps(counts, indent=1, sort_keys=True))
    # Schemathesis leaves out the operation that serves its own schema.
    fuzzed = set(counts) - {"GET /openapi.json", "other"}
    unfuzzed = {f"GET {path}" for path in UNFUZZED_PATHS}
    assert fuzzed == _operations(document) - {"GET /openapi.json"} - unfuzzed
    assert "Traceback" not in kv_server.process.log()


def _operations(document: dict[str, Any]) -> set[str]:
    return {f"{m.upper()} {path}" for path, item in document["paths"].items() for m in item}


def requests_per_operation(report: Path, paths: dict[str, Any]) -> dict[str, int]:
    """How many requests the run sent to each documented operation, from its NDJSON report
    (every phase, stateful sequences included); requests with methods a path does not
    have (the unsupported-method probes) are counted under "other"."""
    templates = [
        (re.compile("^" + re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(path)) + "$"), path)
        for path in paths
    ]
    counts: Counter[str] = Counter()
    for line in report.read_text().splitlines():
        event = json.loads(line).get("ScenarioFinished")
        if event is None:
            continue
        for interaction in (event["recorder"].get("interactions") or {}).values():
            method = interaction["request"]["method"]
            path = urlsplit(interaction["request"]["uri"]).path
            matched = next((t for regex, t in templates if regex.match(path)), None)
            known = matched is not None and method.lower() in paths[matched]
            counts[f"{method} {matched}" if known else "other"] += 1
    return dict(counts)


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())
