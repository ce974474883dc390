"""key_encoding: keys with `/`, spaces, `%`, unicode and 1024 bytes are kept exactly as sent."""

from __future__ import annotations

from testclient.checks import attempt, describe
from testclient.client import KVEntry, Rejected
from testclient.scenarios.context import ScenarioContext

MAX_KEY_BYTES = 1024

# Suffixes chosen in pairs that a transport or store could confuse: encoded
# and decoded forms, composed and decomposed unicode, with and without
# trailing separators.
SUFFIXES = {
    "slashes": "a/b/c",
    "empty path segments and trailing slash": "a//b/",
    "dot segments": "./x/../y",
    "spaces and a tab": "with space  and\ttab",
    "a percent sign": "100% sure",
    "a percent escape": "%41%2F",
    "what that escape decodes to": "A/",
    "query and fragment characters": "a+b?c=d&e#f",
    "quotes and a backslash": "'single' \"double\" back\\slash",
    "unicode": "ключ/鍵/🔑",
    "composed é": "caf\u00e9",
    "decomposed é": "cafe\u0301",
}


async def key_encoding(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    keys = {label: run.key(suffix) for label, suffix in SUFFIXES.items()}
    # Long keys that differ only in their last character, so a store that
    # cuts keys short merges them; one of them made of two-byte characters.
    for ending in "ab":
        keys[f"{MAX_KEY_BYTES} bytes ending in {ending}"] = run.key_of_bytes(
            "long-", MAX_KEY_BYTES, ending=ending
        )
    keys[f"{MAX_KEY_BYTES} bytes of two-byte characters"] = run.key_of_bytes(
        "wide-", MAX_KEY_BYTES, filler="é"
    )
    # Every key is written before any is read, so keys that collide show.
    for label, key in keys.items():
        await client.put(key, label)
    for label, key in keys.items():
        read = await attempt(client.get(key))
        if isinstance(read, KVEntry):
            where = "the same key" if read.key == key else f"key {describe(read.key)}"
            observed = f"the value {describe(read.value)} at {where}"
        else:
            observed = describe(read)
        checks.record(
            f"key with {label} reads back as itself",
            isinstance(read, KVEntry) and read.key == key and read.value == label,
            f"expected the value {describe(label)} at the same key, observed {observed}",
        )

    too_long = run.key_of_bytes("too-long-", MAX_KEY_BYTES + 1)
    checks.expect_error(
        f"a key of {MAX_KEY_BYTES + 1} bytes is rejected",
        Rejected,
        await attempt(client.put(too_long, "over the limit")),
    )
