"""A cancellation flag shared between the event loop and worker threads."""

from __future__ import annotations

import threading
from typing import Callable

from .errors import WorkCancelled


class CancelToken:
    """Set once when the work it belongs to is cancelled; plain functions poll it or wait on it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self.reason: str | None = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            try:
                fn()
            except Exception:  # a callback's failure must not stop the others
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """Sleeps up to `timeout` seconds, waking early on cancellation; True if cancelled."""
        return self._event.wait(timeout)

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise WorkCancelled(self.reason or "cancelled")

    def on_cancel(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Calls `fn` on cancellation (at once if already cancelled); returns a remover."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(fn)
                return lambda: self._remove(fn)
        fn()
        return lambda: None

    def _remove(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if fn in self._callbacks:
                self._callbacks.remove(fn)
