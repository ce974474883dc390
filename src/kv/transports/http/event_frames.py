"""EventFrames: the Server-Sent Events bytes of changes, made once for every watcher.

Each change's frame (`id: R`, `event: put | delete`, `data: {...}`, see
watch.py) is made once and kept while the change lives; a batch of changes
that many watchers send at once is joined once. What a watcher holds while
it writes is one piece of at most PIECE_BYTES (or one larger frame), however
many changes it was given.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Iterable, Iterator

from kv.domain import Change, KeyValueService
from kv.json_codec import write_json

PIECE_BYTES = 64 * 1024
RECENT_BATCHES = 8


def _shared(change: Change) -> bool:
    """Whether the change's frame is the same for every send (a ttl is counted down per send)."""
    return change.entry is None or change.entry.expires_at is None


class EventFrames:
    """The SSE frame of each change, made once however many watchers send it.

    Kept while the change is (in the history, or in a watcher's hands); a
    put of an entry that expires is made per send, as its ttl counts down.
    """

    def __init__(self, service: KeyValueService) -> None:
        self._service = service
        self._frames: weakref.WeakKeyDictionary[Change, bytes] = weakref.WeakKeyDictionary()
        # The last few batches joined, by the changes they hold: watchers woken by one write
        # take the same changes, so the first one joins them and the others reuse its bytes.
        self._recent: deque[tuple[list[Change], bytes]] = deque(maxlen=RECENT_BATCHES)

    def pieces(self, changes: list[Change]) -> Iterable[bytes]:
        """The frames of `changes` as writes of at most PIECE_BYTES each (or one larger frame).

        A batch that fits in one write is joined once for every watcher that
        sends the same changes while it is recent (unless a frame carries a ttl,
        made per send); a larger one is joined a piece at a time, as it is sent,
        so a watcher holds one piece, not its whole batch.
        """
        for seen, piece in self._recent:
            if seen == changes:  # element by element, by identity (Change has eq=False)
                return (piece,)
        frames: list[bytes] = []
        size = 0
        shared = True
        for change in changes:
            frame = self.frame(change)
            size += len(frame)
            if size > PIECE_BYTES and frames:
                return self._piece_by_piece(changes)
            frames.append(frame)
            shared = shared and _shared(change)
        piece = frames[0] if len(frames) == 1 else b"".join(frames)
        if shared:
            self._recent.append((changes, piece))
        return (piece,)

    def _piece_by_piece(self, changes: list[Change]) -> Iterator[bytes]:
        piece: list[bytes] = []
        size = 0
        for change in changes:
            frame = self.frame(change)
            if piece and size + len(frame) > PIECE_BYTES:
                yield b"".join(piece)
                piece, size = [], 0
            piece.append(frame)
            size += len(frame)
        yield piece[0] if len(piece) == 1 else b"".join(piece)

    def frame(self, change: Change) -> bytes:
        frame = self._frames.get(change)
        if frame is None:
            frame = self._make(change)
            if _shared(change):
                self._frames[change] = frame
        return frame

    def _make(self, change: Change) -> bytes:
        data = [b'{"key":', write_json(change.key)]
        if change.entry is not None:
            data += [b',"value":', change.value_json or write_json(change.entry.value)]
        data += [b',"revision":', str(change.revision).encode()]
        if change.expired:
            data.append(b',"expired":true')
        else:
            ttl = self._service.event_ttl(change)
            if ttl is not None:
                data += [b',"ttl":', str(ttl).encode()]
        data.append(b"}")
        head = f"id: {change.revision}\nevent: {change.kind}\ndata: ".encode()
        return head + b"".join(data) + b"\n\n"
