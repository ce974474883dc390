"""`redis_tool`: the path of a program from redis-tools that a test runs.

Absent, the test is skipped, except in CI, where `.ci/run` installs the
package and an absent program is a failure.
"""

from __future__ import annotations

import os
import shutil

import pytest


def redis_tool(name: str) -> str:
    """The path of `name` (redis-cli, redis-benchmark); skip (fail in CI) when not installed."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed; .ci/run installs redis-tools")
        pytest.skip(f"{name} is not installed (apt-get install redis-tools)")
    return path
