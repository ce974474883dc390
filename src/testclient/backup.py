"""`kv backup FILE`: a snapshot of the whole store, saved as the server sent it.

The snapshot is written to `FILE.partial` as it arrives and renamed to FILE
only once its end line has come and every count agrees, so FILE is never a
cut-off snapshot (an earlier backup at FILE stays until then).
"""

from __future__ import annotations

import os
from pathlib import Path

from testclient.http_client import HttpKVClient
from testclient.progress import Progress
from testclient.snapshot_file import Header, StreamCheck


async def backup(client: HttpKVClient, path: Path) -> Header:
    """Save the store's snapshot at `path`; its header (revision, entries)."""
    partial = path.with_name(path.name + ".partial")
    check = StreamCheck()
    progress: Progress | None = None
    try:
        with partial.open("wb") as file:
            async for chunk in client.snapshot():
                file.write(chunk)
                check.feed(chunk)
                if check.header is not None:
                    progress = progress or Progress("backup", check.header.entries)
                    progress.update(check.entries)
            header = check.finish()
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if progress is not None:
            progress.finish()
    return header
