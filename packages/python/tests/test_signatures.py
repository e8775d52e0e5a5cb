"""The agent's server refuses what the manager did not sign, before reading what it need not read."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import urllib.parse
from typing import Any

from conftest import ROOT, Manager, started

from contract_net import Agent, parse_signature, sign, verify
from contract_net.replay_guard import ReplayGuard
from contract_net.signature import Signature, SignatureRefused, now_ms


def vector() -> dict[str, str]:
    """The test vector of docs/PROTOCOL.md, read from the document itself."""
    text = (ROOT / "docs" / "PROTOCOL.md").read_text("utf-8")
    block = text.split("Test vector", 1)[1].split("```", 2)[1]
    return {m.group(1): m.group(2) for m in re.finditer(r"^(token|t|body|header):\s+(.*)$", block, re.M)}


def test_the_protocol_test_vector() -> None:
    v = vector()
    assert set(v) == {"token", "t", "body", "header"}
    assert sign(v["token"], v["body"].encode(), int(v["t"])) == v["header"]
    checked = verify(v["token"], v["body"].encode(), v["header"], now=int(v["t"]) + 1000)
    assert isinstance(checked, Signature)
    assert verify(v["token"], v["body"].encode() + b" ", v["header"], now=int(v["t"])) == SignatureRefused("mismatch")
    assert verify(v["token"], v["body"].encode(), v["header"], now=int(v["t"]) + 301_000) == SignatureRefused("stale")


def test_the_header_has_exactly_one_form() -> None:
    mac = "a" * 64
    assert parse_signature(f"t=1767225600000,v1={mac}") == Signature(1767225600000, mac)
    for bad in [f"t=1767225600000, v1={mac}", f"v1={mac},t=1767225600000", f"t=1767225600000,v1={mac},x=1",
                f"t=01767225600000,v1={mac}", f"t=1767225600000,v1={mac.upper()}", f"t=99999999999999999,v1={mac}",
                "", None]:
        assert parse_signature(bad) is None, bad


def test_the_replay_guard_forgets_in_buckets_and_stays_bounded() -> None:
    g = ReplayGuard(limit=3)
    t = 1_767_225_600_000
    assert g.admit("a", t, now=t) and not g.admit("a", t, now=t) and g.seen("a", t)
    assert g.admit("b", t, now=t) and g.admit("c", t + 60_000, now=t) and g.admit("d", t + 120_000, now=t)
    assert len(g) <= 3
    # Ten minutes later the first minute's bucket is gone.
    assert g.admit("e", t + 600_000, now=t + 600_000) and not g.seen("a", t)


def raw_request(url: str, path: str, body: bytes, headers: dict[str, str], send_body: bool = True) -> tuple[int, Any]:
    """One request on a socket of its own; the body may be announced and never sent."""
    u = urllib.parse.urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        head = f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        s.sendall(head.encode() + (body if send_body else b""))
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1] or b"null")


def _length(data: bytes) -> int:
    m = re.search(rb"content-length: (\d+)", data.split(b"\r\n\r\n", 1)[0], re.I)
    return int(m.group(1)) if m else 0


def test_forged_stale_replayed_and_oversized_requests_are_refused(manager: Manager) -> None:
    async def main() -> None:
        agent = Agent("py-guarded", body_limit_bytes=64 * 1024)
        agent.capability("py.guarded")(lambda input: input)
        async with started(agent, manager) as running:
            url, token = running.url, running.token
            body = json.dumps({"type": "cancel", "conversationId": "01900000-0000-7000-8000-000000000001",
                               "awardId": "01900000-0000-7000-8000-000000000002"}).encode()

            def post(headers: dict[str, str], data: bytes = body, **kw: Any) -> tuple[int, Any]:
                return raw_request(url, "/cancel", data, {"content-length": str(len(data)), **headers}, **kw)

            signed = sign(token, body)
            ok = await asyncio.to_thread(post, {"x-cnp-signature": signed})
            assert ok[0] == 200
            replayed = await asyncio.to_thread(post, {"x-cnp-signature": signed})
            assert replayed == (401, {"error": {"code": "rejected", "message": "signature replayed"}})
            forged = await asyncio.to_thread(post, {"x-cnp-signature": sign("cnp_wrong_token", body)})
            assert forged[0] == 401 and "mismatch" in forged[1]["error"]["message"]
            stale = await asyncio.to_thread(post, {"x-cnp-signature": sign(token, body, now_ms() - 600_000)})
            assert stale[0] == 401 and "stale" in stale[1]["error"]["message"]
            missing = await asyncio.to_thread(post, {})
            assert missing[0] == 401 and "missing" in missing[1]["error"]["message"]
            loose = await asyncio.to_thread(post, {"x-cnp-signature": signed.replace(",", ", ")})
            assert loose[0] == 401 and "malformed" in loose[1]["error"]["message"]
            garbage = b"{not json"
            bad_json = await asyncio.to_thread(post, {"x-cnp-signature": sign(token, garbage)}, garbage)
            assert bad_json[0] == 400
            wrong = json.dumps({"type": "cancel", "conversationId": "x", "awardId": 1}).encode()
            invalid = await asyncio.to_thread(post, {"x-cnp-signature": sign(token, wrong)}, wrong)
            assert invalid[0] == 422 and "conversationId" in invalid[1]["error"]["message"]
            # 50 MB announced and never sent: refused from the header alone, nothing read.
            huge = await asyncio.to_thread(
                raw_request, url, "/cancel", b"", {"content-length": str(50_000_000), "x-cnp-signature": sign(token, b"x")},
                False,
            )
            assert huge[0] == 413
            # A body announced within the limit but never finished does not hold the agent.
            u = urllib.parse.urlsplit(url)
            with socket.create_connection((u.hostname, u.port), timeout=10) as slow:
                slow.sendall(
                    f"POST /cancel HTTP/1.1\r\ncontent-length: 1000\r\nx-cnp-signature: {sign(token, b'y')}\r\n\r\n".encode()
                    + b"{"
                )
                status, health = await asyncio.to_thread(_get, url + "/healthz")
                assert status == 200 and health["status"] == "ok"

    asyncio.run(main())


def _get(url: str) -> tuple[int, Any]:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as res:
        return res.status, json.loads(res.read())



def test_hostile_signed_bodies_get_a_clear_4xx_or_an_answer_never_a_crash(manager: Manager) -> None:
    async def main() -> None:
        agent = Agent("py-hostile")
        agent.capability("py.hostile")(lambda input: input)
        async with started(agent, manager) as running:
            cfp = {"type": "cfp", "conversationId": "01900000-0000-7000-8000-000000000001", "round": 1,
                   "replyBy": "2026-12-07T10:00:01.000Z",
                   "task": {"id": "01900000-0000-7000-8000-000000000001", "capability": "py.hostile",
                            "input": None, "budget": None, "deadline": None, "priority": 0}}
            cases = {
                b"[" * 20_000 + b"]" * 20_000: 400,
                json.dumps({**cfp, "round": 10**400}).encode(): 422,
                json.dumps(cfp).replace('"budget": null', '"budget": 1e999').encode(): 400,
                json.dumps(cfp).replace("null", "NaN", 1).encode(): 400,
                b'{"type": "cfp", "x": "\\u0000\\ud800"}': 422,
                b"\xff\xfe": 400,
                json.dumps({**cfp, "task": {**cfp["task"], "input": "\u0000\ud800"}}).encode(): 200,
            }
            for body, expected in cases.items():
                headers = {"content-length": str(len(body)), "x-cnp-signature": sign(running.token, body)}
                status, answer = await asyncio.to_thread(raw_request, running.url, "/cfp", body, headers)
                assert status == expected, (body[:60], status, answer)
            status, health = await asyncio.to_thread(_get, running.url + "/healthz")
            assert status == 200

    asyncio.run(main())
