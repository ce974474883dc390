"""The committed generated code is what `make codegen` makes from the protos now.

One case per `make codegen` line: kv's own API (src/kv/v1) and the vendored
subset of etcd's v3 API that the etcd store speaks (src/kv/etcdpb).
"""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
# package under src/ -> the protos it is generated from (paths relative to -I proto)
CODEGEN = {
    "kv/v1": ("proto/kv/v1/kv.proto",),
    "kv/etcdpb": ("proto/kv/etcdpb/kv.proto", "proto/kv/etcdpb/rpc.proto"),
}


def _generated(protos: tuple[str, ...]) -> list[str]:
    return [Path(proto).stem + suffix for proto in protos for suffix in SUFFIXES]


@pytest.mark.parametrize(("package", "protos"), CODEGEN.items(), ids=list(CODEGEN))
def test_committed_code_matches_the_protos(
    package: str, protos: tuple[str, ...], tmp_path: Path
) -> None:
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
            *protos,
        ],
        cwd=ROOT,
        check=True,
    )
    committed, fresh = ROOT / "src" / package, tmp_path / package
    _, mismatch, errors = filecmp.cmpfiles(committed, fresh, _generated(protos), shallow=False)
    assert mismatch + errors == [], "out of date with the protos: run `make codegen`"


@pytest.mark.parametrize("protos", CODEGEN.values(), ids=list(CODEGEN))
def test_makefile_runs_the_same_command(protos: tuple[str, ...]) -> None:
    makefile = (ROOT / "Makefile").read_text()
    expected = (
        "-m grpc_tools.protoc -I proto --python_out=src --pyi_out=src "
        f"--grpc_python_out=src {' '.join(protos)}"
    )
    assert expected in makefile


def test_the_licence_stays_beside_the_vendored_etcd_protos() -> None:
    licence = (ROOT / "proto" / "kv" / "etcdpb" / "LICENSE").read_text()
    assert "Apache License" in licence
    assert "Version 2.0" in licence
