"""Sortable run ids: ULID-like, 26 characters of Crockford base32, time-ordered.

The first 10 characters encode the creation time in milliseconds, the last 16 carry
80 random bits. Ids made in the same millisecond by one process increase monotonically
(the random part is incremented), so sorting ids sorts runs by creation order.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_TIME_CHARS = 10
_RANDOM_CHARS = 16
ID_LENGTH = _TIME_CHARS + _RANDOM_CHARS

_lock = threading.Lock()
_last_ms = -1
_last_rand = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(now_ms: int | None = None) -> str:
    """Return a new 26-character, time-ordered id for the current (or given) millisecond.

    Ids from the clock (``now_ms`` None) strictly increase within this process, even when
    many are made in one millisecond or the clock steps back. An explicit ``now_ms`` gives
    an id for that instant with a random tail, outside that sequence.
    Raises ValueError if ``now_ms`` is negative or does not fit in 48 bits.
    """
    global _last_ms, _last_rand
    if now_ms is not None:
        if not 0 <= now_ms < 2**48:
            raise ValueError(f"timestamp {now_ms} ms is outside the 48-bit range of an id")
        return _encode(now_ms, _TIME_CHARS) + _encode(secrets.randbits(_RANDOM_BITS), _RANDOM_CHARS)
    ms = time.time_ns() // 1_000_000
    with _lock:
        if ms <= _last_ms:
            # Same (or earlier: clock stepped back) millisecond: keep ids increasing.
            ms = _last_ms
            rand = _last_rand + 1
            if rand == 2**_RANDOM_BITS:
                ms, rand = ms + 1, 0
        else:
            rand = secrets.randbits(_RANDOM_BITS)
        _last_ms, _last_rand = ms, rand
    return _encode(ms, _TIME_CHARS) + _encode(rand, _RANDOM_CHARS)


def id_time(run_id: str) -> datetime:
    """Return the UTC creation time encoded in an id made by ``new_id``.

    Raises ValueError if ``run_id`` is not a 26-character Crockford base32 id.
    """
    if len(run_id) != ID_LENGTH or any(c not in _ALPHABET for c in run_id.upper()):
        raise ValueError(f"{run_id!r} is not a run id")
    ms = 0
    for c in run_id[:_TIME_CHARS].upper():
        ms = ms * 32 + _ALPHABET.index(c)
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
