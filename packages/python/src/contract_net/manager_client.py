"""The calls an agent makes to the manager, with its token, over the standard library's HTTP client."""

from __future__ import annotations

import http.client
import json
import random
import socket
import time
import urllib.parse
from typing import Any, Mapping

from .cancel_token import CancelToken
from .errors import ManagerError, ManagerUnreachable, manager_error

#: How long a call may take beyond what it asks the manager to wait.
CALL_TIMEOUT_S = 10.0


class ManagerClient:
    """Blocking calls, each on its own connection; safe to use from several threads at once.

    Calls that are safe to repeat (reports, reads, subtasks sent with an idempotency key) are
    retried on network errors, 5xx and 429 with exponential backoff: 100 ms doubling to 5 s.
    """

    def __init__(self, base_url: str, *, report_attempts: int = 6, retry_base_s: float = 0.1) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the manager URL must be http(s)://host[:port], not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._parts = parts
        self._prefix = parts.path.rstrip("/")
        self.token: str | None = None
        self._attempts = max(1, report_attempts)
        self._retry_base_s = retry_base_s

    # ---- the protocol's calls -------------------------------------------------------------

    def register(self, profile: Mapping[str, Any], registration_key: str | None = None) -> Any:
        headers = {"x-registration-key": registration_key} if registration_key else {}
        return self.call("POST", "/v1/agents", profile, headers=headers)

    def heartbeat(self, agent_id: str, running: int) -> Any:
        return self.call("POST", f"/v1/agents/{agent_id}/heartbeat", {"running": running})

    def deregister(self, agent_id: str) -> Any:
        return self.call("DELETE", f"/v1/agents/{agent_id}")

    def rotate_token(self, agent_id: str) -> Any:
        return self.call("POST", f"/v1/agents/{agent_id}/token")

    def bid(self, task_id: str, bid: Mapping[str, Any]) -> Any:
        return self.call("POST", f"/v1/tasks/{task_id}/bids", bid)

    def report(self, task_id: str, report: Mapping[str, Any]) -> Any:
        """Reports a result; retried through manager restarts (the same report again changes nothing)."""
        return self.retrying(lambda: self.call("POST", f"/v1/tasks/{task_id}/result", report))

    def submit_task(self, body: Mapping[str, Any], idempotency_key: str | None = None) -> Any:
        """Submits a task; with an idempotency key a failed try is made again (never stored twice)."""
        if not idempotency_key:
            return self.call("POST", "/v1/tasks", body)
        key = idempotency_key
        return self.retrying(lambda: self.call("POST", "/v1/tasks", body, headers={"idempotency-key": key}))

    def get_task(self, task_id: str, wait_ms: int = 0, cancel: CancelToken | None = None) -> Any:
        """A task; with `wait_ms`, answered as soon as it has ended (a long-poll)."""
        return self.retrying(
            lambda: self.call("GET", f"/v1/tasks/{task_id}?waitMs={wait_ms}", timeout=wait_ms / 1000 + CALL_TIMEOUT_S,
                              cancel=cancel),
            cancel,
        )

    def cancel_task(self, task_id: str) -> Any:
        return self.call("POST", f"/v1/tasks/{task_id}/cancel")

    def claim(self, capabilities: list[str], limit: int, lease_ms: int, wait_ms: int,
              cancel: CancelToken | None = None) -> Any:
        """Claims queued tasks; with `wait_ms` the manager holds the call until one is queued."""
        body = {"capabilities": capabilities, "limit": limit, "leaseMs": lease_ms, "waitMs": wait_ms}
        return self.call("POST", "/v1/queue/claim", body, timeout=wait_ms / 1000 + CALL_TIMEOUT_S, cancel=cancel)

    # ---- plumbing -------------------------------------------------------------------------

    def retrying(self, fn: Any, cancel: CancelToken | None = None) -> Any:
        delay = self._retry_base_s
        for attempt in range(1, self._attempts + 1):
            try:
                return fn()
            except ManagerUnreachable:
                if attempt == self._attempts or (cancel and cancel.cancelled):
                    raise
            except ManagerError as err:
                if not err.retryable or attempt == self._attempts or (cancel and cancel.cancelled):
                    raise
                retry_after = getattr(err, "retry_after", None)
                if retry_after:
                    delay = max(delay, min(float(retry_after), 30.0))
            pause = min(5.0, delay) * (0.5 + random.random() / 2)
            if cancel is not None:
                if cancel.wait(pause):
                    raise ManagerUnreachable(self.base_url, "cancelled while retrying")
            else:
                time.sleep(pause)
            delay *= 2
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, body: Any = None, *, headers: Mapping[str, str] | None = None,
             timeout: float = CALL_TIMEOUT_S, cancel: CancelToken | None = None) -> Any:
        """One request; an error answer raises the ManagerError subclass for its status and code."""
        data = None if body is None else json.dumps(body, allow_nan=False).encode()
        h = {"accept": "application/json", "user-agent": "contract-net-python/0.1"}
        if data is not None:
            h["content-type"] = "application/json"
        if self.token:
            h["authorization"] = f"Bearer {self.token}"
        h.update(headers or {})
        conn = self._connection(timeout)
        # A long-poll is cut short on cancellation by shutting its socket from the cancelling thread.
        remove = cancel.on_cancel(lambda: _shutdown(conn)) if cancel else None
        try:
            conn.request(method, self._prefix + path, body=data, headers=h)
            res = conn.getresponse()
            raw = res.read()
            status = res.status
            retry_after = res.getheader("retry-after")
        except (OSError, http.client.HTTPException) as err:
            if cancel is not None and cancel.cancelled:
                raise ManagerUnreachable(self.base_url, "cancelled") from None
            raise ManagerUnreachable(self.base_url, _why(err)) from None
        finally:
            if remove:
                remove()
            conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        if 200 <= status < 300:
            return parsed
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if not isinstance(error, dict):
            error = {}
        details = error.get("details") if isinstance(error.get("details"), list) else None
        raise manager_error(
            status,
            str(error.get("code") or "http_error"),
            str(error.get("message") or raw[:200].decode("utf-8", "replace")),
            details,
            _seconds(retry_after),
        )

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        host = self._parts.hostname or "127.0.0.1"
        if self._parts.scheme == "https":
            return http.client.HTTPSConnection(host, self._parts.port, timeout=timeout)
        return http.client.HTTPConnection(host, self._parts.port, timeout=timeout)


def _shutdown(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _why(err: BaseException) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, socket.timeout):
        return "timed out"
    if isinstance(err, socket.gaierror):
        return "unknown host"
    return str(err) or type(err).__name__


def _seconds(header: str | None) -> float | None:
    try:
        return float(header) if header else None
    except ValueError:
        return None
