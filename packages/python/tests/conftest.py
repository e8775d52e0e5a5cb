"""A real manager for the whole test session, started by `test/support/python-manager.ts`.

It runs on PGlite in memory, or on a new database of the PostgreSQL server at DATABASE_URL
(dropped at the end), so `DATABASE_URL=... python3 -m pytest` runs the same tests on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "packages" / "python" / "src"))

# Agents started here keep their tokens in a directory of the run's own, never in the user's home.
os.environ.setdefault("CNET_AGENT_HOME", tempfile.mkdtemp(prefix="cnet-py-agents-"))


class Manager:
    def __init__(self, url: str, ts_agent_id: str) -> None:
        self.url = url
        self.ts_agent_id = ts_agent_id

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             timeout: float = 60) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                raw = res.read()
                return res.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None

    def submit(self, capability: str, input: Any, **extra: Any) -> dict[str, Any]:
        status, task = self.call("POST", "/v1/tasks", {"capability": capability, "input": input, **extra})
        assert status == 202, (status, task)
        return task  # type: ignore[no-any-return]

    def wait_end(self, task_id: str, timeout_s: float = 30) -> dict[str, Any]:
        until = time.monotonic() + timeout_s
        while True:
            status, task = self.call("GET", f"/v1/tasks/{task_id}?waitMs=20000")
            assert status == 200, (status, task)
            if task["state"] in ("completed", "failed", "cancelled") or time.monotonic() > until:
                return task  # type: ignore[no-any-return]

    async def acall(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return await asyncio.to_thread(self.call, method, path, body)

    async def asubmit(self, capability: str, input: Any, **extra: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self.submit, capability, input, **extra)

    async def await_end(self, task_id: str, timeout_s: float = 30) -> dict[str, Any]:
        return await asyncio.to_thread(self.wait_end, task_id, timeout_s)


@pytest.fixture(scope="session")
def manager() -> Iterator[Manager]:
    node = shutil.which("node")
    assert node, "the tests need Node.js to run the manager"
    proc = subprocess.Popen(
        [node, "--import", "tsx", "test/support/python-manager.ts"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"the manager did not start (exit code {proc.wait()})")
    info = json.loads(line)
    try:
        yield Manager(info["url"], info["tsAgentId"])
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def eventually(fn: Callable[[], Any], timeout_s: float = 15, what: str = "condition") -> Any:
    """Waits until `fn()` (sync, or returning an awaitable) is truthy; fails after `timeout_s`."""
    until = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < until:
        value = fn()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        last = value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@contextlib.asynccontextmanager
async def started(agent: Any, manager: Manager, **options: Any) -> AsyncIterator[Any]:
    """An agent started against the test manager (no token file, quiet unless asked), stopped after."""
    options.setdefault("token_file", False)
    options.setdefault("log", lambda _line: None)
    running = await agent.start(manager.url, **options)
    try:
        yield running
    finally:
        await running.stop(grace_s=1.0)
