"""The agent's standing with the manager: its id and token, kept in a file across restarts."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .errors import ContractNetError, Conflict, NameTaken
from .manager_client import ManagerClient

#: How long messages signed with a rotated-away token are still accepted (the signature's window).
ROTATION_OVERLAP_S = 5 * 60.0


def default_token_file(name: str, manager: str) -> Path:
    """Where an agent keeps its token by default: per agent name and manager, under the user's home.

    `$CNET_AGENT_HOME` (else `~/.contract-net/agents`) / `<name>@<manager host:port>.json`, the
    same file the TypeScript SDK uses, so either can restart the other's agent.
    """
    home = os.environ.get("CNET_AGENT_HOME") or str(Path.home() / ".contract-net" / "agents")
    parts = urllib.parse.urlsplit(manager)
    at = manager
    if parts.scheme in ("http", "https") and parts.hostname:
        default = {"http": 80, "https": 443}[parts.scheme]
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        at = host if parts.port in (None, default) else f"{host}:{parts.port}"
    return Path(home) / (re.sub(r"[^A-Za-z0-9._@-]+", "_", f"{name}@{at}") + ".json")


@dataclass
class Registered:
    id: str
    token: str
    heartbeat_ms: int | None


class Session:
    """Registers (again, with the saved token if there is one), saves the token, rotates it."""

    def __init__(self, manager: ManagerClient, profile: Mapping[str, Any], token_file: Path | None,
                 registration_key: str | None) -> None:
        self.manager = manager
        self.profile = profile
        self.token_file = token_file
        self.registration_key = registration_key
        self.id = ""
        self.token = ""
        self.heartbeat_ms: int | None = None
        self._previous: list[tuple[str, float]] = []

    def open(self) -> None:
        """Blocking: registers, as itself when the token file holds this agent's token."""
        saved = self._read_saved()
        self.manager.token = saved.get("token") if saved else None
        try:
            registered = self._register(self.manager.token)
        except Conflict as err:
            if err.code != "name_taken":
                raise
            where = f" in {self.token_file}" if self.token_file else ""
            raise NameTaken(
                f'agent name "{self.profile["name"]}" is registered already and this agent has no token for it'
                f"{where}; use another name or the original token file"
            ) from None
        self.id, self.token, self.heartbeat_ms = registered.id, registered.token, registered.heartbeat_ms
        self._save()

    def reregister(self) -> None:
        """After the manager forgot the agent (403/404 on a heartbeat): registers again."""
        registered = self._register(self.token)
        self.id, self.token = registered.id, registered.token
        self._save()

    def signing_tokens(self) -> list[str]:
        """The tokens a message from the manager may be signed with: the current one first."""
        now = time.monotonic()
        self._previous = [(t, until) for t, until in self._previous if until > now]
        return [self.token, *(t for t, _ in self._previous)]

    def rotate_token(self) -> None:
        """Blocking: a new token; the old one dies at once, but still verifies messages for a while."""
        token = self.manager.rotate_token(self.id)["token"]
        self._previous.append((self.token, time.monotonic() + ROTATION_OVERLAP_S))
        self.token = token
        self.manager.token = token
        self._save()

    def _register(self, known_token: str | None) -> Registered:
        res = self.manager.register(self.profile, self.registration_key)
        token = res.get("token") or known_token
        if not token:
            raise ContractNetError("the manager registered this agent without giving it a token")
        self.manager.token = token
        hb = res.get("heartbeatMs")
        return Registered(str(res["agent"]["id"]), str(token), hb if isinstance(hb, int) and hb > 0 else None)

    def _read_saved(self) -> dict[str, str] | None:
        if not self.token_file:
            return None
        try:
            saved = json.loads(self.token_file.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("manager") != self.manager.base_url:
            return None
        return saved if isinstance(saved.get("token"), str) else None

    def _save(self) -> None:
        if not self.token_file:
            return
        self.token_file.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"manager": self.manager.base_url, "agentId": self.id, "token": self.token}, indent=2)
        # Written whole or not at all, readable by the owner only.
        fd, tmp = tempfile.mkstemp(dir=self.token_file.parent, prefix=".token-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.token_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
