"""The protocol's messages as dataclasses, parsed strictly from the manager's JSON.

Attribute names are Python's (`conversation_id`); the wire names are the protocol's
(`conversationId`, docs/PROTOCOL.md). Parsing refuses what the protocol does not allow with a
`ProtocolError` naming the field, which the agent's server answers with 422.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Mapping, Union

#: Any JSON value: what a task's input and output may be (an object, an array, a string, ...).
Json = Any

MAX_ETA_MS = 7 * 24 * 3600 * 1000
MAX_COST = 1e12
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
REJECT_REASONS = frozenset(
    {"another_bid_accepted", "over_budget", "misses_deadline", "late", "cancelled", "expired", "not_shortlisted"}
)


class ProtocolError(ValueError):
    """A message from the manager that does not follow the protocol; `field` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class TaskSpec:
    """The part of a task an agent sees in a cfp and an award."""

    id: str
    capability: str
    input: Json
    budget: float | None
    deadline: datetime | None
    priority: int
    #: The outputs of the tasks it depends on, by task id (only for a task with dependsOn).
    dependencies: dict[str, Json] | None = None


@dataclass(frozen=True)
class Best:
    """The leading proposal so far in an iterated round (anonymous)."""

    cost: float
    eta_ms: int


@dataclass(frozen=True)
class Cfp:
    """call-for-proposals: the manager asks whether (and at what cost and time) you would do a task."""

    conversation_id: str
    round: int
    reply_by: datetime
    task: TaskSpec
    #: Iterated rounds: this cfp's iteration (1 in the first), and the leading proposal so far.
    iteration: int = 1
    best: Best | None = None


@dataclass(frozen=True)
class AcceptProposal:
    """accept-proposal: your bid won; do the work and report by `due_at`."""

    conversation_id: str
    round: int
    award_id: str
    task: TaskSpec
    due_at: datetime
    result_url: str
    #: What the award pays (your bid's cost); None for a task claimed from the queue.
    cost: float | None = None


@dataclass(frozen=True)
class RejectProposal:
    """reject-proposal: your bid lost (`reason` says why); sent once, best effort."""

    conversation_id: str
    round: int
    reason: str


@dataclass(frozen=True)
class Cancel:
    """cancel: stop the work of this award."""

    conversation_id: str
    award_id: str


@dataclass(frozen=True)
class Proposal:
    """A bid: what you would charge and how long you would take."""

    cost: float
    eta_ms: int
    #: 0..1, recorded and shown; it does not change the ranking.
    confidence: float | None = None
    #: Not awarded after this time.
    valid_until: datetime | None = None

    def to_json(self) -> dict[str, Json]:
        problem = proposal_problem(self)
        if problem:
            raise ValueError(f"invalid proposal: {problem}")
        out: dict[str, Json] = {"type": "propose", "cost": float(self.cost), "etaMs": int(self.eta_ms)}
        if self.confidence is not None:
            out["confidence"] = float(self.confidence)
        if self.valid_until is not None:
            out["validUntil"] = format_time(self.valid_until)
        return out


@dataclass(frozen=True)
class Refusal:
    """A refusal to bid (or to take an award), with an optional reason."""

    reason: str | None = None

    def to_json(self) -> dict[str, Json]:
        out: dict[str, Json] = {"type": "refuse"}
        if self.reason is not None:
            out["reason"] = str(self.reason)[:500]
        return out


Bid = Union[Proposal, Refusal]


@dataclass(frozen=True)
class Deferred:
    """A bid decided later: the agent answers `deferred` now and posts what `decide` returns."""

    decide: Callable[[], Bid | Awaitable[Bid]]


BidDecision = Union[Proposal, Refusal, Deferred]


def deferred(decide: Callable[[], Bid | Awaitable[Bid]]) -> Deferred:
    """For a `bid` hook: answer `deferred` now, and post the real bid once `decide` returns."""
    return Deferred(decide)


@dataclass(frozen=True)
class BidContext:
    """What a `bid` hook sees besides the cfp: the agent's own load."""

    running: int
    queued: int
    capacity: int


def proposal_problem(p: Proposal) -> str | None:
    """Why a proposal would be refused by the manager, or None."""
    if isinstance(p.cost, bool) or not isinstance(p.cost, (int, float)) or not math.isfinite(p.cost):
        return "cost must be a finite number"
    if not 0 <= p.cost <= MAX_COST:
        return f"cost must be between 0 and {MAX_COST:g}"
    if isinstance(p.eta_ms, bool) or not isinstance(p.eta_ms, int) or not 0 < p.eta_ms <= MAX_ETA_MS:
        return f"eta_ms must be a whole number of milliseconds from 1 to {MAX_ETA_MS}"
    if p.confidence is not None and not (isinstance(p.confidence, (int, float)) and 0 <= p.confidence <= 1):
        return "confidence must be between 0 and 1"
    return None


def format_time(t: datetime) -> str:
    """A time as the protocol writes it: ISO 8601 in UTC with milliseconds."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- parsing ------------------------------------------------------------------------------


def _obj(v: object, where: str) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise ProtocolError(where or "body", "must be an object")
    return v


def _str(m: Mapping[str, Any], key: str, where: str) -> str:
    v = m.get(key)
    if not isinstance(v, str):
        raise ProtocolError(where + key, "must be a string")
    return v


def _id(m: Mapping[str, Any], key: str, where: str) -> str:
    v = _str(m, key, where)
    if not _UUID.match(v):
        raise ProtocolError(where + key, "must be a UUID")
    return v


def _int(m: Mapping[str, Any], key: str, where: str, minimum: int, default: int | None = None) -> int:
    v = m.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum or v > 2**53:
        raise ProtocolError(where + key, f"must be a whole number >= {minimum}")
    return v


def _num(v: object, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ProtocolError(where, "must be a finite number")
    return float(v)


def parse_time(v: object, where: str) -> datetime:
    if not isinstance(v, str) or len(v) > 40:
        raise ProtocolError(where, "must be an ISO 8601 time")
    text = v[:-1] + "+00:00" if v.endswith(("Z", "z")) else v
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ProtocolError(where, "must be an ISO 8601 time") from None
    if t.tzinfo is None:
        raise ProtocolError(where, "must carry a time zone")
    return t


def _type(m: Mapping[str, Any], expected: str) -> None:
    if m.get("type") != expected:
        raise ProtocolError("type", f'must be "{expected}"')


def parse_task(v: object, where: str = "task.") -> TaskSpec:
    m = _obj(v, where.rstrip("."))
    if "input" not in m:
        raise ProtocolError(where + "input", "is required")
    budget = m.get("budget")
    deadline = m.get("deadline")
    deps = m.get("dependencies")
    if deps is not None and not isinstance(deps, dict):
        raise ProtocolError(where + "dependencies", "must be an object")
    return TaskSpec(
        id=_id(m, "id", where),
        capability=_str(m, "capability", where),
        input=m["input"],
        budget=None if budget is None else _num(budget, where + "budget"),
        deadline=None if deadline is None else parse_time(deadline, where + "deadline"),
        priority=_int(m, "priority", where, -(2**31), 0),
        dependencies=deps,
    )


def parse_cfp(v: object) -> Cfp:
    m = _obj(v, "")
    _type(m, "cfp")
    best = m.get("best")
    parsed_best = None
    if best is not None:
        b = _obj(best, "best")
        parsed_best = Best(cost=_num(b.get("cost"), "best.cost"), eta_ms=_int(b, "etaMs", "best.", 0))
    return Cfp(
        conversation_id=_id(m, "conversationId", ""),
        round=_int(m, "round", "", 1),
        reply_by=parse_time(m.get("replyBy"), "replyBy"),
        task=parse_task(m.get("task")),
        iteration=_int(m, "iteration", "", 1, 1),
        best=parsed_best,
    )


def parse_award(v: object) -> AcceptProposal:
    m = _obj(v, "")
    _type(m, "accept-proposal")
    cost = m.get("cost")
    return AcceptProposal(
        conversation_id=_id(m, "conversationId", ""),
        round=_int(m, "round", "", 0),
        award_id=_id(m, "awardId", ""),
        task=parse_task(m.get("task")),
        due_at=parse_time(m.get("dueAt"), "dueAt"),
        result_url=_str(m, "resultUrl", ""),
        cost=None if cost is None else _num(cost, "cost"),
    )


def parse_reject(v: object) -> RejectProposal:
    m = _obj(v, "")
    _type(m, "reject-proposal")
    reason = _str(m, "reason", "")
    if reason not in REJECT_REASONS:
        raise ProtocolError("reason", "must be one of " + ", ".join(sorted(REJECT_REASONS)))
    return RejectProposal(conversation_id=_id(m, "conversationId", ""), round=_int(m, "round", "", 0), reason=reason)


def parse_cancel(v: object) -> Cancel:
    m = _obj(v, "")
    _type(m, "cancel")
    return Cancel(conversation_id=_id(m, "conversationId", ""), award_id=_id(m, "awardId", ""))


@dataclass(frozen=True)
class Claimed:
    """A task claimed from the fallback queue, held until `lease_until`."""

    task: TaskSpec
    award_id: str
    lease_until: datetime


def parse_claimed(v: object) -> Claimed:
    m = _obj(v, "tasks.N")
    return Claimed(
        task=parse_task(m.get("task")),
        award_id=_id(m, "awardId", ""),
        lease_until=parse_time(m.get("leaseUntil"), "leaseUntil"),
    )

