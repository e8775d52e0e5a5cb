"""The manager's signature on every call it makes to an agent (docs/PROTOCOL.md, section 2).

`X-CNP-Signature: t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed by the agent's
whole token string. The header has exactly that form: a lenient parser would let one signature
be written many ways, each new to a replay guard.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Literal, Union

SIGNATURE_HEADER = "x-cnp-signature"
#: How far a signature's timestamp may be from the receiver's clock.
SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000
_HEADER = re.compile(r"t=([1-9][0-9]{0,15}),v1=([0-9a-f]{64})")
_MAX_SAFE_INTEGER = 2**53 - 1


@dataclass(frozen=True)
class Signature:
    t: int
    mac: str


@dataclass(frozen=True)
class SignatureRefused:
    reason: Literal["missing", "malformed", "stale", "mismatch"]


SignatureCheck = Union[Signature, SignatureRefused]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def sign(token: str, body: bytes, t: int | None = None) -> str:
    """The header the manager would send for `body` at `t` (unix ms; default now)."""
    stamp = now_ms() if t is None else t
    mac = hmac.new(token.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def parse_signature(header: str | None) -> Signature | None:
    """The header's two fields, or None unless it is exactly `t=<digits>,v1=<64 hex>`."""
    m = _HEADER.fullmatch(header) if header else None
    if not m:
        return None
    t = int(m.group(1))
    return Signature(t, m.group(2)) if t <= _MAX_SAFE_INTEGER else None


def fresh(sig: Signature, now: int | None = None) -> bool:
    """Whether the signature's timestamp is within the tolerance of this clock."""
    return abs((now_ms() if now is None else now) - sig.t) <= SIGNATURE_TOLERANCE_MS


def verify(token: str, body: bytes, header: str | None, now: int | None = None) -> SignatureCheck:
    """Checks a signature header over the raw body with one token."""
    if not header:
        return SignatureRefused("missing")
    sig = parse_signature(header)
    if sig is None:
        return SignatureRefused("malformed")
    if not fresh(sig, now):
        return SignatureRefused("stale")
    expected = hmac.new(token.encode(), f"{sig.t}.".encode() + body, hashlib.sha256).hexdigest()
    return sig if hmac.compare_digest(expected, sig.mac) else SignatureRefused("mismatch")
