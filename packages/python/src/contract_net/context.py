"""What an `execute` function sees besides its input."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .cancel_token import CancelToken
from .errors import ManagerUnreachable, SubtaskFailed, WorkCancelled
from .manager_client import ManagerClient
from .messages import Json, TaskSpec, format_time

ENDED = frozenset({"completed", "failed", "cancelled"})

#: Subtask options and their names on the wire.
_OPTIONS = {
    "budget": "budget",
    "deadline": "deadline",
    "priority": "priority",
    "bid_window_ms": "bidWindowMs",
    "max_attempts": "maxAttempts",
    "weights": "weights",
    "iterations": "iterations",
    "shortlist": "shortlist",
}


@dataclass
class WorkContext:
    """The award being worked on: its task, what it pays, when it is due, and its cancellation.

    A plain `execute` function checks `ctx.cancelled` (or calls `ctx.raise_if_cancelled()`, or
    sleeps with `ctx.cancel_token.wait(s)`); an `async def` one is cancelled by asyncio.
    """

    task: TaskSpec
    award_id: str
    #: What the award pays (the accepted bid's cost); None for a task claimed from the queue.
    cost: float | None
    due_at: datetime
    cancel_token: CancelToken
    _manager: ManagerClient
    _io: Executor

    @property
    def cancelled(self) -> bool:
        return self.cancel_token.cancelled

    def raise_if_cancelled(self) -> None:
        """Raises WorkCancelled once the manager has cancelled this award."""
        self.cancel_token.raise_if_cancelled()

    def subcontract(self, capability: str, input: Json, **options: Any) -> Json:
        """Blocking: submits a subtask through the market and returns its output.

        Options: budget, deadline, priority, bid_window_ms, max_attempts, weights, iterations,
        shortlist. The budgets of this award's subtasks together stay within its cost (without
        one, a subtask gets what is left), its deadline within this award's due time; this agent
        is never invited to its own subtask. Raises SubtaskFailed if it fails or is cancelled,
        WorkCancelled (after cancelling the subtask) if this work is cancelled meanwhile.
        """
        self.raise_if_cancelled()
        body: dict[str, Any] = {
            "capability": capability,
            "input": input,
            "parent": {"taskId": self.task.id, "awardId": self.award_id},
        }
        for key, value in options.items():
            if key not in _OPTIONS:
                raise TypeError(f"subcontract() got an unknown option {key!r}; known: {', '.join(_OPTIONS)}")
            if value is not None:
                body[_OPTIONS[key]] = format_time(value) if isinstance(value, datetime) else value
        # Its own idempotency key: a try cut off by a manager restart is made again, never twice.
        task = self._manager.submit_task(body, f"subtask-{uuid.uuid4()}")
        try:
            while task["state"] not in ENDED and not self.cancelled:
                task = self._manager.get_task(task["id"], 20_000, self.cancel_token)
        except ManagerUnreachable:
            if not self.cancelled:
                raise
        if self.cancelled:
            try:
                self._manager.cancel_task(task["id"])
            except Exception:
                pass  # best effort: the manager cancels an ended award's subtasks itself
            raise WorkCancelled(self.cancel_token.reason or "cancelled")
        if task["state"] != "completed":
            raise SubtaskFailed(task["id"], capability, task["state"], task.get("error"))
        return task.get("output")

    async def asubcontract(self, capability: str, input: Json, **options: Any) -> Json:
        """`subcontract` for `async def` work: the same, without blocking the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._io, lambda: self.subcontract(capability, input, **options))
