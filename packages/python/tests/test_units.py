"""Pure parts, tested alone: message parsing, proposals, and the client's retries against a real HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from contract_net import (
    InvalidRequest,
    ManagerClient,
    ManagerUnreachable,
    Proposal,
    ProtocolError,
    Refusal,
    StaleAward,
)
from contract_net.messages import parse_award, parse_cfp

TASK = {"id": "01900000-0000-7000-8000-000000000001", "capability": "x.y", "input": {"a": 1}, "budget": None,
        "deadline": None, "priority": 0}
CFP = {"type": "cfp", "conversationId": TASK["id"], "round": 1, "replyBy": "2026-12-07T10:00:01.000Z", "task": TASK}


def test_a_cfp_parses_into_dataclasses_with_python_names() -> None:
    cfp = parse_cfp({**CFP, "iteration": 2, "best": {"cost": 3, "etaMs": 800}})
    assert cfp.conversation_id == TASK["id"] and cfp.round == 1 and cfp.iteration == 2
    assert cfp.best is not None and cfp.best.cost == 3 and cfp.best.eta_ms == 800
    assert cfp.reply_by.year == 2026 and cfp.reply_by.utcoffset() is not None
    assert cfp.task.input == {"a": 1} and cfp.task.budget is None


@pytest.mark.parametrize(
    "change, field",
    [
        ({"type": "award"}, "type"),
        ({"conversationId": "not-a-uuid"}, "conversationId"),
        ({"round": 0}, "round"),
        ({"round": True}, "round"),
        ({"replyBy": "yesterday"}, "replyBy"),
        ({"task": {**TASK, "budget": "ten"}}, "task.budget"),
        ({"task": {k: v for k, v in TASK.items() if k != "input"}}, "task.input"),
        ({"best": {"cost": 1}}, "best.etaMs"),
    ],
)
def test_a_message_off_the_protocol_names_its_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_cfp({**CFP, **change})
    assert err.value.field == field


def test_an_award_carries_its_cost_and_due_time() -> None:
    award = parse_award({"type": "accept-proposal", "conversationId": TASK["id"], "round": 1,
                         "awardId": "01900000-0000-7000-8000-000000000002", "task": TASK,
                         "dueAt": "2026-12-07T10:00:05.000Z", "resultUrl": "http://m/v1/tasks/x/result", "cost": 3})
    assert award.cost == 3.0 and award.due_at.second == 5


def test_proposals_serialise_to_the_wire_and_refuse_what_the_manager_would() -> None:
    assert Proposal(cost=2, eta_ms=500, confidence=0.9).to_json() == {
        "type": "propose", "cost": 2.0, "etaMs": 500, "confidence": 0.9}
    assert Refusal("busy").to_json() == {"type": "refuse", "reason": "busy"}
    for bad in [Proposal(cost=-1, eta_ms=5), Proposal(cost=float("nan"), eta_ms=5), Proposal(cost=1, eta_ms=0)]:
        with pytest.raises(ValueError):
            bad.to_json()


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next of `answers`; records what it was sent."""

    answers: list[tuple[int, Any]] = []
    seen: list[tuple[str, str, Any, str | None]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"] or 0)) or b"null")
        Scripted.seen.append((self.command, self.path, body, self.headers.get("authorization")))
        status, answer = Scripted.answers.pop(0)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def scripted() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Scripted.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_result_report_is_retried_through_5xx_and_429_and_stops_at_a_final_answer(scripted: str) -> None:
    client = ManagerClient(scripted, retry_base_s=0.001)
    client.token = "cnp_x_y"
    Scripted.answers = [
        (503, {"error": {"code": "database_unavailable", "message": "try again"}}),
        (429, {"error": {"code": "rate_limited", "message": "slow down"}}),
        (200, {"id": "t", "state": "completed"}),
    ]
    report = {"awardId": "a", "type": "inform-result", "output": 1}
    assert client.report("t", report) == {"id": "t", "state": "completed"}
    assert [s[2] for s in Scripted.seen] == [report] * 3
    assert all(s[3] == "Bearer cnp_x_y" for s in Scripted.seen)

    Scripted.answers = [(409, {"error": {"code": "stale_award", "message": "moved on"}})]
    with pytest.raises(StaleAward):
        client.report("t", report)
    Scripted.answers = [(422, {"error": {"code": "invalid_output", "message": "no", "details": [
        {"field": "output.n", "message": "must be <= 3"}]}})]
    with pytest.raises(InvalidRequest) as err:
        client.report("t", report)
    assert err.value.details == [{"field": "output.n", "message": "must be <= 3"}]


def test_an_unreachable_manager_is_one_exception_with_a_reason() -> None:
    client = ManagerClient("http://127.0.0.1:9", report_attempts=2, retry_base_s=0.001)
    with pytest.raises(ManagerUnreachable, match="connection refused"):
        client.report("t", {"awardId": "a", "type": "failure", "reason": "x"})
