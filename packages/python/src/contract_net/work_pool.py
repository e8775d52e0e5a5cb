"""The agent's bounded work pool, on the event loop."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal

from .cancel_token import CancelToken
from .errors import WorkCancelled
from .messages import AcceptProposal, Json

#: What a finished job reports: inform-result with its output, or failure with a reason.
Result = dict[str, Any]

#: How long a finished award id is remembered, so a retried award is still recognised.
REMEMBER_S = 10 * 60.0


@dataclass(eq=False)
class Job:
    award: AcceptProposal
    input: Json
    token: CancelToken = field(default_factory=CancelToken)
    state: Literal["waiting", "running", "reporting", "done"] = "waiting"
    task: asyncio.Task[None] | None = None
    #: Runs as a coroutine on the loop (cancelled by asyncio), not in a worker thread.
    is_async: bool = False
    #: While the award's answer waits for it: the result goes there, not to the manager.
    inline: bool = False
    outcome: asyncio.Future[Result | None] | None = None


class WorkPool:
    """Awarded jobs wait for one of `capacity` slots, run, and hand their result to `report`.

    A slot is freed when the work ends, not when the manager has taken the result: a manager
    slow to take results must not hold the next jobs past their due time.
    """

    def __init__(
        self,
        capacity: int,
        execute: Callable[[Job], Awaitable[Json]],
        is_async: Callable[[Job], bool],
        report: Callable[[AcceptProposal, Result], Awaitable[None]],
    ) -> None:
        self.capacity = capacity
        self._execute = execute
        self._is_async = is_async
        self._report = report
        self._jobs: dict[str, Job] = {}
        self._waiting: deque[Job] = deque()
        self._running = 0
        self._reporting = 0
        self._changed = asyncio.Event()

    def load(self) -> dict[str, int]:
        return {"running": self._running, "queued": len(self._waiting)}

    def room(self) -> int:
        """Slots neither running nor promised to a waiting job."""
        return self.capacity - self._running - len(self._waiting)

    def busy(self) -> bool:
        return self._running > 0 or bool(self._waiting) or self._reporting > 0

    def has(self, award_id: str) -> bool:
        return award_id in self._jobs

    def enqueue(self, award: AcceptProposal, input: Json) -> None:
        """Queues a job; it runs when a slot is free and its result goes to `report`."""
        self._waiting.append(self._new_job(award, input))
        self._pump()

    async def run_inline(self, award: AcceptProposal, input: Json, within_s: float) -> Result | None | Literal[False]:
        """Runs a job at once if a slot is free, and returns its result if it ends within `within_s`.

        False: no free slot, nothing started. None: still running (or failed), it reports itself.
        """
        if self._running >= self.capacity:
            return False
        job = self._new_job(award, input)
        job.inline = True
        job.outcome = asyncio.get_running_loop().create_future()
        self._start(job)
        try:
            await asyncio.wait_for(asyncio.shield(job.outcome), within_s)
        except asyncio.TimeoutError:
            pass
        job.inline = False
        if not job.outcome.done():
            return None  # slow: reported through the result call when it ends
        result = job.outcome.result()
        if result is not None and result["type"] == "inform-result":
            self._release(job)
            self._finish(job)
            return result
        self._deliver_later(job, result)
        return None

    def cancel(self, award_id: str) -> None:
        """Cancels a job's work (the manager cancelled its award); a waiting job never starts."""
        job = self._jobs.get(award_id)
        if job is None or job.state == "done":
            return
        job.token.cancel("cancelled by the manager")
        if job.state == "waiting":
            self._waiting.remove(job)
            job.state = "done"
            self._notify()
        elif job.is_async and job.task is not None:
            job.task.cancel()

    async def when_room(self) -> None:
        """Returns when a slot may have freed."""
        self._changed.clear()
        if self.room() <= 0:
            await self._changed.wait()

    async def drain(self, grace_s: float) -> None:
        """Waits for all work and reports to end; after `grace_s` cancels whatever still runs."""
        loop = asyncio.get_running_loop()
        until = loop.time() + grace_s
        while self.busy() and loop.time() < until:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), max(0.0, until - loop.time()))
            except asyncio.TimeoutError:
                break
        for job in list(self._jobs.values()):
            if job.state in ("waiting", "running"):
                job.token.cancel("agent shutting down")
                if job.is_async and job.task is not None:
                    job.task.cancel()

    # ---- internals ------------------------------------------------------------------------

    def _new_job(self, award: AcceptProposal, input: Json) -> Job:
        job = Job(award, input)
        job.is_async = self._is_async(job)
        self._jobs[award.award_id] = job
        return job

    def _pump(self) -> None:
        while self._running < self.capacity and self._waiting:
            self._start(self._waiting.popleft())

    def _start(self, job: Job) -> None:
        self._running += 1
        job.state = "running"
        job.task = asyncio.get_running_loop().create_task(self._run(job))

    async def _run(self, job: Job) -> None:
        result: Result | None
        try:
            output = await self._execute(job)
            result = {"type": "inform-result", "output": output}
            try:
                json.dumps(output, allow_nan=False)
            except (TypeError, ValueError, RecursionError) as err:
                result = {"type": "failure", "reason": f"the output is not JSON: {err}"[:2000]}
        except asyncio.CancelledError:
            result = None
        except WorkCancelled:
            result = None if job.token.cancelled else {"type": "failure", "reason": "cancelled"}
        except Exception as err:
            result = {"type": "failure", "reason": (str(err) or type(err).__name__)[:2000]}
        if job.token.cancelled:
            result = None  # a cancelled award's result would only be refused as stale
        if job.inline and job.outcome is not None:
            job.outcome.set_result(result)
            return
        await self._deliver(job, result)

    def _deliver_later(self, job: Job, result: Result | None) -> None:
        job.task = asyncio.get_running_loop().create_task(self._deliver(job, result))

    async def _deliver(self, job: Job, result: Result | None) -> None:
        self._release(job)
        try:
            if result is not None:
                await self._report(job.award, result)
        except Exception:
            pass  # 409 stale_award and the like: the manager moved on
        finally:
            self._finish(job)

    def _release(self, job: Job) -> None:
        """The work is over: frees its slot for the next job while the result is reported."""
        if job.state != "running":
            return
        self._running -= 1
        self._reporting += 1
        job.state = "reporting"
        self._pump()
        self._notify()

    def _finish(self, job: Job) -> None:
        if job.state == "reporting":
            self._reporting -= 1
        job.state = "done"
        asyncio.get_running_loop().call_later(REMEMBER_S, self._jobs.pop, job.award.award_id, None)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
