"""`Agent`: capabilities declared by decorators, a bid hook, and everything the protocol asks of a bidder."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import math
import os
import re
import signal
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar, Union, cast

from .context import WorkContext
from .errors import (
    ConfigurationError,
    ContractNetError,
    InvalidRequest,
    ManagerError,
    ManagerUnreachable,
    NotAuthorized,
    NotFound,
)
from .http_server import BodyTooSlow, HttpServer, Request, Response, error
from .manager_client import ManagerClient
from .messages import (
    AcceptProposal,
    BidContext,
    BidDecision,
    Cfp,
    Deferred,
    Json,
    Proposal,
    ProtocolError,
    Refusal,
    RejectProposal,
    parse_award,
    parse_cancel,
    parse_cfp,
    parse_claimed,
    parse_reject,
    proposal_problem,
)
from .replay_guard import ReplayGuard
from .session import Session, default_token_file
from .signature import SIGNATURE_HEADER, Signature, fresh, parse_signature, verify
from .work_pool import Job, Result, WorkPool

#: The largest request an agent reads by default: a cfp carries the task input (1 MiB at the manager's default).
DEFAULT_BODY_LIMIT = 2 * 1024 * 1024
#: Largest bodies read at once before their signatures are checked (the budget is this many times the limit).
UNVERIFIED_BODIES = 8
DEFAULT_MANAGER = "http://127.0.0.1:8080"
_CAPABILITY_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")

ExecuteFn = Callable[..., Union[Json, Awaitable[Json]]]
BidFn = Callable[..., Union[BidDecision, Awaitable[BidDecision]]]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Capability:
    """A capability as declared: its name, the function that does the work, and what it publishes."""

    name: str
    execute: ExecuteFn
    input_schema: dict[str, Json] | None = None
    output_schema: dict[str, Json] | None = None
    description: str | None = None
    tags: list[str] | None = None
    bid: BidFn | None = None

    def published(self) -> dict[str, Json]:
        out: dict[str, Json] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        if self.tags:
            out["tags"] = list(self.tags)
        if self.input_schema is not None:
            out["inputSchema"] = self.input_schema
        if self.output_schema is not None:
            out["outputSchema"] = self.output_schema
        return out


def _arity(fn: Callable[..., Any]) -> int:
    """How many positional arguments `fn` takes (1: input only; 2: input and context)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return min(2, len(positional))


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


class ByteBudget:
    """Bytes in use out of a fixed budget."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> bool:
        if self.used + n > self.limit:
            return False
        self.used += n
        return True

    def give(self, n: int) -> None:
        self.used -= n


class Agent:
    """A contract-net agent: declare capabilities with `@agent.capability(...)`, then `agent.run()`.

    Each capability's function takes the task input (and, optionally, a `WorkContext`) and returns
    the output, which must be JSON; raising reports a failure. Plain functions run in a pool of
    `max_concurrency` threads; `async def` functions run on the agent's event loop, at most
    `max_concurrency` at once either way.
    """

    def __init__(
        self,
        name: str,
        *,
        description: str | None = None,
        max_concurrency: int = 1,
        cost: float = 1.0,
        eta_ms: int = 1000,
        inline_result_ms: int | None = None,
        body_limit_bytes: int = DEFAULT_BODY_LIMIT,
    ) -> None:
        if not isinstance(name, str) or not 0 < len(name) <= 128:
            raise ConfigurationError("name must be a string of 1 to 128 characters")
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or not 1 <= max_concurrency <= 10_000:
            raise ConfigurationError("max_concurrency must be a whole number from 1 to 10000")
        problem = proposal_problem(Proposal(cost, eta_ms))
        if problem:
            raise ConfigurationError(f"the default bid: {problem}")
        if not isinstance(body_limit_bytes, int) or body_limit_bytes < 1024:
            raise ConfigurationError("body_limit_bytes must be at least 1024")
        self.name = name
        self.description = description
        self.max_concurrency = max_concurrency
        self.inline_result_ms = inline_result_ms
        self.body_limit_bytes = body_limit_bytes
        self.capabilities: dict[str, Capability] = {}
        self._default_bid = Proposal(cost, eta_ms)
        self._bid: BidFn | None = None
        self._on_reject: Callable[..., Any] | None = None

    # ---- declaring --------------------------------------------------------------------------

    def capability(
        self,
        name: str,
        *,
        input_schema: dict[str, Json] | None = None,
        output_schema: dict[str, Json] | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        bid: BidFn | None = None,
    ) -> Callable[[F], F]:
        """Declares a capability done by the decorated function.

        `input_schema` and `output_schema` are JSON Schema (2020-12) dicts, published to the
        manager: it sends this agent no input that breaks the first, and counts an output that
        breaks the second as a failure. `bid` overrides the agent's bid hook for this capability.
        """
        if not isinstance(name, str) or not _CAPABILITY_NAME.fullmatch(name):
            raise ConfigurationError(f"capability name {name!r} must match ^[a-z0-9][a-z0-9._-]{{0,127}}$")
        if name in self.capabilities:
            raise ConfigurationError(f"capability {name!r} is declared twice")
        for what, schema in (("input_schema", input_schema), ("output_schema", output_schema)):
            if schema is not None and not isinstance(schema, dict):
                raise ConfigurationError(f"{what} of {name!r} must be a JSON Schema (a dict)")
            try:
                json.dumps(schema, allow_nan=False)
            except (TypeError, ValueError) as err:
                raise ConfigurationError(f"{what} of {name!r} is not JSON: {err}") from None

        def register(fn: F) -> F:
            self.capabilities[name] = Capability(name, fn, input_schema, output_schema, description, tags, bid)
            return fn

        return register

    def bid(self, fn: F) -> F:
        """Decorates the bid hook: `(cfp, ctx: BidContext) -> Proposal | Refusal | deferred(...)`."""
        self._bid = fn
        return fn

    def on_reject(self, fn: F) -> F:
        """Decorates a hook called with each RejectProposal, for strategies that learn from losing."""
        self._on_reject = fn
        return fn

    # ---- running ----------------------------------------------------------------------------

    async def start(
        self,
        manager: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        token_file: str | os.PathLike[str] | bool | None = None,
        registration_key: str | None = None,
        heartbeat_ms: int | None = None,
        pull: bool = False,
        pull_only: bool = False,
        lease_ms: int = 30_000,
        wait_ms: int = 20_000,
        report_attempts: int = 6,
        log: Callable[[str], None] | None = None,
    ) -> RunningAgent:
        """Serves, registers and heartbeats; returns the running agent (stop it with `await stop()`).

        `manager` defaults to $CNET_MANAGER, else http://127.0.0.1:8080. `token_file` (default
        `default_token_file(name, manager)`; False keeps none) holds the id and token, so a restart
        registers as the same agent. `pull` also claims from the fallback queue when there is room;
        `pull_only` serves nothing and only claims. `heartbeat_ms` defaults to what the manager asks.
        """
        running = self._prepare(manager, {"report_attempts": report_attempts, "log": log})
        await running._start(host, port, public_url, token_file, registration_key, heartbeat_ms, pull, pull_only,
                             lease_ms, wait_ms)
        return running

    def _prepare(self, manager: str | None, options: dict[str, Any]) -> RunningAgent:
        """The running agent, not yet serving: checks what can be checked before any I/O."""
        if not self.capabilities:
            raise ConfigurationError("declare at least one capability with @agent.capability(...)")
        url = manager or os.environ.get("CNET_MANAGER") or DEFAULT_MANAGER
        try:
            client = ManagerClient(url, report_attempts=options.pop("report_attempts", 6))
        except ValueError as err:
            raise ConfigurationError(str(err)) from None
        return RunningAgent(self, client, options.pop("log", None) or _stderr)

    async def serve(self, manager: str | None = None, **options: Any) -> None:
        """Runs until SIGINT or SIGTERM (or `stop()`), then drains its work and deregisters."""
        running = self._prepare(manager, options)
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, running.request_stop)
                    handled.append(sig)
                except (NotImplementedError, RuntimeError):
                    pass
        try:
            await running._start(**options)
            await running.stopped()
        except _StoppedBeforeStart:
            return  # stopped (a signal) while waiting for the manager: nothing to undo
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            await running.stop(grace_s=5.0)

    def run(self, manager: str | None = None, **options: Any) -> None:
        """Blocking: `serve()` on a new event loop; a failure to start is one line on stderr and exit 1."""
        try:
            asyncio.run(self.serve(manager, **options))
        except ContractNetError as err:
            print(f'contract-net: agent "{self.name}" stopped: {err}', file=sys.stderr)
            for d in getattr(err, "details", []) or []:
                if isinstance(d, dict):
                    print(f"  {d.get('field')}: {d.get('message')}", file=sys.stderr)
            raise SystemExit(1) from None
        except KeyboardInterrupt:
            raise SystemExit(130) from None

    # ---- what the pieces call -----------------------------------------------------------------

    def _bid_hook(self, capability: str) -> BidFn | None:
        cap = self.capabilities.get(capability)
        return (cap.bid if cap else None) or self._bid


class _StoppedBeforeStart(Exception):
    """Stopped while still waiting for the manager to answer the registration."""


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class RunningAgent:
    """A started agent: its id and URL, its load, token rotation, and `stop()`."""

    def __init__(self, agent: Agent, manager: ManagerClient, log: Callable[[str], None]) -> None:
        self.agent = agent
        self.manager = manager
        self.log = log
        self.url: str | None = None
        self._session: Session | None = None
        self._accepting = True
        self._stop_requested = asyncio.Event()
        self._stopped = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._replays = ReplayGuard()
        self._unverified = ByteBudget(agent.body_limit_bytes * UNVERIFIED_BODIES)
        cap = agent.max_concurrency
        self._threads = ThreadPoolExecutor(cap, thread_name_prefix=f"cnet-{agent.name}-work")
        self._io = ThreadPoolExecutor(max(8, 2 * cap + 4), thread_name_prefix=f"cnet-{agent.name}-io")
        self._hooks = ThreadPoolExecutor(4, thread_name_prefix=f"cnet-{agent.name}-hooks")
        self._pool = WorkPool(cap, self._execute, self._job_is_async, self._report)
        self._server: HttpServer | None = None
        from .cancel_token import CancelToken

        self._pull_cancel = CancelToken()

    @property
    def id(self) -> str:
        return self._session.id if self._session else ""

    @property
    def token(self) -> str:
        return self._session.token if self._session else ""

    def load(self) -> dict[str, int]:
        """Running and waiting work."""
        return self._pool.load()

    async def rotate_token(self) -> None:
        """Replaces the token (saved to the token file); messages signed with the old one still verify for 5 minutes."""
        session = self._require_session()
        await self._in_io(session.rotate_token)

    def request_stop(self) -> None:
        """Asks `serve()` to stop (what SIGINT and SIGTERM do)."""
        self._stop_requested.set()

    async def stopped(self) -> None:
        await self._stop_requested.wait()

    async def stop(self, grace_s: float = 10.0, deregister: bool = True) -> None:
        """Stops bidding, lets running work finish (cancelling it after `grace_s`), deregisters and closes."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_requested.set()
        self._accepting = False
        self._pull_cancel.cancel("stopping")
        await self._pool.drain(grace_s)
        for t in list(self._tasks):
            t.cancel()
        session = self._session
        if session is not None:
            if deregister:
                try:
                    await self._in_io(session.manager.deregister, session.id)
                except ContractNetError as err:
                    self.log(f'agent "{self.agent.name}": could not deregister: {err}')
        if self._server is not None:
            await self._server.close()
        for ex in (self._threads, self._io, self._hooks):
            ex.shutdown(wait=False, cancel_futures=True)

    # ---- start --------------------------------------------------------------------------------

    async def _start(self, host: str = "127.0.0.1", port: int = 0, public_url: str | None = None,
                     token_file: str | os.PathLike[str] | bool | None = None, registration_key: str | None = None,
                     heartbeat_ms: int | None = None, pull: bool = False, pull_only: bool = False,
                     lease_ms: int = 30_000, wait_ms: int = 20_000) -> None:
        if token_file is True or token_file is None:
            file: Path | None = default_token_file(self.agent.name, self.manager.base_url)
        elif token_file is False:
            file = None
        else:
            file = Path(token_file)
        pull = pull or pull_only
        agent = self.agent
        if not pull_only:
            self._server = HttpServer(self._handle, on_error=self._report_bug)
            bound = await self._server.start(host, port)
            self.url = public_url or f"http://{host}:{bound}"
        profile: dict[str, Json] = {
            "name": agent.name,
            "capabilities": [c.published() for c in agent.capabilities.values()],
            "maxConcurrency": agent.max_concurrency,
        }
        if self.url:
            profile["endpoint"] = self.url
        if agent.description:
            profile["description"] = agent.description
        session = Session(self.manager, profile, file, registration_key)
        try:
            await self._open_patiently(session)
        except BaseException:
            if self._server is not None:
                await self._server.close()
            raise
        self._session = session
        where = f"listening on {self.url}" if self.url else "pull-only"
        kept = f" (token kept in {file})" if file else ""
        self.log(f'agent "{agent.name}" {where}, registered as {session.id} with {self.manager.base_url}{kept}')
        self._spawn(self._heartbeat(heartbeat_ms or session.heartbeat_ms or 5000))
        if pull:
            self._spawn(self._pull_loop(lease_ms, wait_ms))

    async def _open_patiently(self, session: Session) -> None:
        """Registers; while the manager cannot be reached, says so in one line and tries again (1 s doubling to 30 s)."""
        delay = 1.0
        while True:
            try:
                await self._in_io(session.open)
                return
            except ManagerUnreachable as err:
                self.log(f'agent "{self.agent.name}": {err}; trying again in {delay:g} s')
            try:
                await asyncio.wait_for(self._stop_requested.wait(), delay)
                raise _StoppedBeforeStart()
            except asyncio.TimeoutError:
                pass
            delay = min(30.0, delay * 2)

    async def _heartbeat(self, every_ms: int) -> None:
        while True:
            await asyncio.sleep(every_ms / 1000)
            session = self._session
            if session is None:
                return
            try:
                await self._in_io(session.manager.heartbeat, session.id, self._pool.load()["running"])
            except (NotAuthorized, NotFound):
                # The manager forgot this agent (a reset database): register again.
                try:
                    await self._in_io(session.reregister)
                except ContractNetError:
                    pass
            except ContractNetError:
                pass

    async def _pull_loop(self, lease_ms: int, wait_ms: int) -> None:
        """Claims queued tasks while there is room; the claim is a long-poll, not a polling loop."""
        names = list(self.agent.capabilities)
        while not self._pull_cancel.cancelled:
            room = self._pool.room()
            if room <= 0:
                await self._pool.when_room()
                continue
            try:
                res = await self._in_io(self.manager.claim, names, room, lease_ms, wait_ms, self._pull_cancel)
            except ContractNetError:
                if self._pull_cancel.cancelled:
                    return
                await asyncio.sleep(1.0)
                continue
            for item in (res or {}).get("tasks", []):
                try:
                    claimed = parse_claimed(item)
                except ProtocolError:
                    continue
                award = AcceptProposal(
                    conversation_id=claimed.task.id,
                    round=0,
                    award_id=claimed.award_id,
                    task=claimed.task,
                    due_at=claimed.lease_until,
                    result_url=f"{self.manager.base_url}/v1/tasks/{claimed.task.id}/result",
                    cost=None,
                )
                if claimed.task.capability in self.agent.capabilities:
                    self._pool.enqueue(award, claimed.task.input)

    # ---- the protocol's four routes -----------------------------------------------------------

    async def _handle(self, req: Request) -> Response:
        if req.method == "GET" and req.path == "/healthz":
            return Response(200, {"status": "ok", **self._pool.load()})
        route = _ROUTES.get(req.path)
        if route is None or req.method != "POST":
            return error(404 if route is None else 405, f"no route for {req.method} {req.path}")
        session = self._session
        if session is None:
            return error(503, "not registered yet", close=True)
        # Nothing of an unsigned request is read: the header is checked first, and no body is
        # read past the limit (a Content-Length over it is refused at once).
        sig = parse_signature(req.header(SIGNATURE_HEADER))
        if not req.has_header(SIGNATURE_HEADER):
            return error(401, "signature missing", close=True)
        if sig is None:
            return error(401, "signature malformed", close=True)
        if not fresh(sig):
            return error(401, "signature stale", close=True)
        if self._replays.seen(sig.mac, sig.t):
            return error(401, "signature replayed", close=True)
        if req.content_length is None:
            return error(411, "send the body with a Content-Length", close=True)
        limit = self.agent.body_limit_bytes
        if req.content_length > limit:
            return error(413, f"the body exceeds {limit} bytes", close=True)
        # Bodies not yet verified are read within a budget of bytes: forged requests (a MAC is
        # only known once the whole body is in) can cost the agent that much memory, no more.
        if not self._unverified.take(req.content_length):
            return error(503, "too many requests being read; try again", close=True)
        try:
            raw = await req.read_body()
        finally:
            self._unverified.give(req.content_length)
        if not any(isinstance(verify(t, raw, req.header(SIGNATURE_HEADER)), Signature)
                   for t in session.signing_tokens()):
            return error(401, "signature mismatch")
        if not self._replays.admit(sig.mac, sig.t):
            return error(401, "signature replayed")
        try:
            message = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
        except (ValueError, RecursionError):
            return error(400, "malformed JSON")
        try:
            return Response(200, await route(self, message))
        except ProtocolError as err:
            return error(422, str(err))

    async def _on_cfp(self, message: Json) -> Json:
        cfp = parse_cfp(message)
        if not self._accepting:
            return Refusal("shutting_down").to_json()
        if cfp.task.capability not in self.agent.capabilities:
            return Refusal(f"this agent does not offer {cfp.task.capability}").to_json()
        hook = self.agent._bid_hook(cfp.task.capability)
        load = self._pool.load()
        ctx = BidContext(load["running"], load["queued"], self._pool.capacity)
        try:
            decision = await self._call_hook(hook, cfp, ctx) if hook else self.agent._default_bid
        except Exception as err:
            self._report_bug(err)
            return Refusal(f"the bid hook failed: {err}"[:500]).to_json()
        if isinstance(decision, Deferred):
            self._spawn(self._post_deferred(cfp, decision))
            return {"type": "deferred"}
        return self._bid_json(decision)

    def _bid_json(self, decision: object) -> dict[str, Json]:
        """A strategy's bug must not look like a dead agent to the manager: refuse, and say why."""
        if isinstance(decision, Proposal):
            problem = proposal_problem(decision)
            if problem is None:
                return decision.to_json()
            reason = f"invalid bid from strategy: {problem}"
        elif isinstance(decision, Refusal):
            return decision.to_json()
        else:
            reason = f"invalid bid from strategy: expected Proposal, Refusal or deferred(...), got {type(decision).__name__}"
        self.log(f"[{self.agent.name}] {reason}")
        return Refusal(reason[:500]).to_json()

    async def _post_deferred(self, cfp: Cfp, decision: Deferred) -> None:
        try:
            bid = await self._call_hook(decision.decide)
            body = {**self._bid_json(bid), "round": cfp.round}
            await self._in_io(self.manager.bid, cfp.conversation_id, body)
        except ContractNetError:
            pass  # a late or refused deferred bid is the manager's call
        except Exception as err:
            self._report_bug(err)

    async def _on_award(self, message: Json) -> Json:
        award = parse_award(message)
        if self._pool.has(award.award_id):
            return {"type": "agree"}  # a retried award: already ours
        if not self._accepting:
            return Refusal("shutting_down").to_json()
        if award.task.capability not in self.agent.capabilities:
            return Refusal(f"this agent does not offer {award.task.capability}").to_json()
        if self.agent.inline_result_ms is not None:
            inline = await self._pool.run_inline(award, award.task.input, self.agent.inline_result_ms / 1000)
            if inline:
                return {"type": "inform-result", "output": inline["output"]}
            if inline is None:
                return {"type": "agree"}
        self._pool.enqueue(award, award.task.input)
        return {"type": "agree"}

    async def _on_reject(self, message: Json) -> Json:
        msg = parse_reject(message)
        if self.agent._on_reject is not None:
            try:
                await self._call_hook(self.agent._on_reject, msg)
            except Exception as err:
                self._report_bug(err)
        return {"ok": True}

    async def _on_cancel(self, message: Json) -> Json:
        self._pool.cancel(parse_cancel(message).award_id)
        return {"ok": True}

    # ---- work ---------------------------------------------------------------------------------

    def _job_is_async(self, job: Job) -> bool:
        return _is_async(self.agent.capabilities[job.award.task.capability].execute)

    async def _execute(self, job: Job) -> Json:
        cap = self.agent.capabilities[job.award.task.capability]
        ctx = WorkContext(
            task=job.award.task,
            award_id=job.award.award_id,
            cost=job.award.cost,
            due_at=job.award.due_at,
            cancel_token=job.token,
            _manager=self.manager,
            _io=self._io,
        )
        args = (job.input, ctx) if _arity(cap.execute) >= 2 else (job.input,)
        if job.is_async:
            return await cast(Awaitable[Json], cap.execute(*args))
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._threads, lambda: context.run(cap.execute, *args))

    async def _report(self, award: AcceptProposal, result: Result) -> None:
        body = {"awardId": award.award_id, **result}
        try:
            await self._in_io(self.manager.report, award.conversation_id, body)
        except InvalidRequest as err:
            self.log(f'[{self.agent.name}] the manager refused the result of {award.conversation_id}: {err}')

    # ---- helpers ------------------------------------------------------------------------------

    async def _call_hook(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A hook, `async def` on the loop or plain in a thread; with as many arguments as it takes."""
        n = _arity(fn)
        use = args[: max(n, 0)] if n < len(args) else args
        if _is_async(fn):
            return await fn(*use)
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        result: Any = await loop.run_in_executor(self._hooks, lambda: context.run(fn, *use))
        return await result if inspect.isawaitable(result) else result

    async def _in_io(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._io, lambda: fn(*args))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _require_session(self) -> Session:
        if self._session is None:
            raise ContractNetError("the agent is not registered")
        return self._session

    def _report_bug(self, err: BaseException) -> None:
        if isinstance(err, BodyTooSlow):
            return
        text = "".join(traceback.format_exception(type(err), err, err.__traceback__)).rstrip()
        self.log(f"[{self.agent.name}] {text}")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


_ROUTES: dict[str, Callable[[RunningAgent, Json], Awaitable[Json]]] = {
    "/cfp": RunningAgent._on_cfp,
    "/award": RunningAgent._on_award,
    "/reject": RunningAgent._on_reject,
    "/cancel": RunningAgent._on_cancel,
}
