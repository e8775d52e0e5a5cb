"""Remembers the MACs of accepted signatures while their timestamps are fresh."""

from __future__ import annotations

from .signature import SIGNATURE_TOLERANCE_MS, now_ms

BUCKET_MS = 60_000


class ReplayGuard:
    """Refuses a signature seen before: a captured request sent again within its 5 minutes.

    Keyed on the MAC, not the header text. MACs are kept in buckets by the minute of their
    timestamp; buckets older than the tolerance are dropped whole, so an admit costs O(1)
    however many are kept, and at most `limit` are kept (the oldest bucket goes first; a request
    that old is refused as stale anyway).
    """

    def __init__(self, limit: int = 200_000) -> None:
        self._buckets: dict[int, set[str]] = {}
        self._size = 0
        self._limit = limit

    def admit(self, mac: str, t: int, now: int | None = None) -> bool:
        """True the first time a MAC (of a signature stamped `t`) is seen; False for a replay."""
        self._expire(now_ms() if now is None else now)
        bucket = self._buckets.setdefault(t // BUCKET_MS, set())
        if mac in bucket:
            return False
        bucket.add(mac)
        self._size += 1
        while self._size > self._limit:
            oldest = min(self._buckets)
            self._size -= len(self._buckets.pop(oldest))
        return True

    def seen(self, mac: str, t: int) -> bool:
        """Whether a MAC was admitted already: a replay, refused before its body is read."""
        return mac in self._buckets.get(t // BUCKET_MS, ())

    def __len__(self) -> int:
        return self._size

    def _expire(self, now: int) -> None:
        oldest = (now - SIGNATURE_TOLERANCE_MS) // BUCKET_MS - 1
        for k in [k for k in self._buckets if k < oldest]:
            self._size -= len(self._buckets.pop(k))
