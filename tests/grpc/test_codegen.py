"""The committed generated code is what `make codegen` makes from the proto now."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = "proto/kv/v1/kv.proto"
GENERATED = ("kv_pb2.py", "kv_pb2.pyi", "kv_pb2_grpc.py")


def test_committed_code_matches_the_proto(tmp_path: Path) -> None:
    # The Makefile's codegen command, with a temporary directory for `src`.
    out = str(tmp_path)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            "proto",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            PROTO,
        ],
        cwd=ROOT,
        check=True,
    )
    committed = ROOT / "src" / "kv" / "v1"
    fresh = tmp_path / "kv" / "v1"
    _, mismatch, errors = filecmp.cmpfiles(committed, fresh, GENERATED, shallow=False)
    assert mismatch + errors == [], "out of date with the proto: run `make codegen`"


def test_makefile_runs_the_same_command() -> None:
    makefile = (ROOT / "Makefile").read_text()
    expected = (
        "-m grpc_tools.protoc -I proto --python_out=src --pyi_out=src "
        f"--grpc_python_out=src {PROTO}"
    )
    assert expected in makefile
