"""The committed etcd client code is what `make codegen` makes from the vendored protos now."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ("proto/kv/etcdpb/kv.proto", "proto/kv/etcdpb/rpc.proto")
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
GENERATED = tuple(f"{name}{suffix}" for name in ("kv", "rpc") for suffix in SUFFIXES)


def test_committed_code_matches_the_vendored_protos(tmp_path: Path) -> None:
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
            *PROTOS,
        ],
        cwd=ROOT,
        check=True,
    )
    committed = ROOT / "src" / "kv" / "etcdpb"
    fresh = tmp_path / "kv" / "etcdpb"
    _, mismatch, errors = filecmp.cmpfiles(committed, fresh, GENERATED, shallow=False)
    assert mismatch + errors == [], "out of date with the protos: run `make codegen`"


def test_makefile_runs_the_same_command() -> None:
    makefile = (ROOT / "Makefile").read_text()
    expected = (
        "-m grpc_tools.protoc -I proto --python_out=src --pyi_out=src "
        f"--grpc_python_out=src {' '.join(PROTOS)}"
    )
    assert expected in makefile


def test_the_licence_stays_beside_the_vendored_protos() -> None:
    licence = (ROOT / "proto" / "kv" / "etcdpb" / "LICENSE").read_text()
    assert "Apache License" in licence
    assert "Version 2.0" in licence
