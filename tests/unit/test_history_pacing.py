"""ChangeHistory's paced wake-ups: a deferred wake-up still delivers every change, in order.

Under load the history wakes watchers no sooner than the last round of sends
took (at most MAX_PACE_SECONDS, see history.py); those figures live in
bench/watch.py. Here the state after a long round is set directly, so the
deferred path runs whatever the machine's speed.
"""

from __future__ import annotations

import asyncio

from kv.adapters.history import MAX_PACE_SECONDS, ChangeHistory
from kv.domain import Change

WAIT_SECONDS = 20.0


async def test_changes_recorded_while_wake_ups_are_paced_arrive_together_in_order() -> None:
    history = ChangeHistory()
    subscription = history.subscribe("", None)
    waiting = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)  # the watcher waits for the next change
    # As just after a round of sends that took MAX_PACE_SECONDS.
    history._quiet_until = asyncio.get_running_loop().time() + MAX_PACE_SECONDS
    changes = [Change.delete(f"k{n}", n) for n in range(1, 4)]
    for change in changes:
        history.record(change)
    await asyncio.sleep(0)
    assert not waiting.done()  # deferred, not lost: it comes when the pause is over
    assert await asyncio.wait_for(waiting, WAIT_SECONDS) is changes[0]
    assert subscription.ready(10) == changes[1:]


async def test_a_round_of_wake_ups_sets_the_next_pause_from_its_own_duration() -> None:
    history = ChangeHistory()
    subscription = history.subscribe("", None)
    waiting = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    before = loop.time()
    history.record(Change.delete("k", 1))  # an idle history wakes its watcher at once
    assert (await asyncio.wait_for(waiting, WAIT_SECONDS)).key == "k"
    for _ in range(3):  # the round's end is noted once the woken watchers have run
        await asyncio.sleep(0)
    assert before <= history._quiet_until <= loop.time() + MAX_PACE_SECONDS
