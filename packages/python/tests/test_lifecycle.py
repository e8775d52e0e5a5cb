"""Registration, restarts under the same id, token rotation, signals, and an unreachable manager."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path


import pytest
from conftest import ROOT, Manager, eventually, started

from contract_net import Agent, ConfigurationError, NameTaken, default_token_file


def echo_agent(name: str, capability: str) -> Agent:
    agent = Agent(name)
    agent.capability(capability)(lambda input: {"by": name, "input": input})
    return agent


def test_restart_keeps_the_id_through_the_token_file_and_stop_deregisters(manager: Manager, tmp_path: Path) -> None:
    async def main() -> None:
        file = tmp_path / "agent.json"
        first = await echo_agent("py-restarts", "py.restarts").start(manager.url, token_file=file, log=lambda _: None)
        saved = json.loads(file.read_text())
        assert saved == {"manager": manager.url, "agentId": first.id, "token": first.token}
        assert oct(file.stat().st_mode & 0o777) == "0o600"
        await first.stop(deregister=False)

        second = await echo_agent("py-restarts", "py.restarts").start(manager.url, token_file=file, log=lambda _: None)
        assert second.id == first.id
        status, profile = await manager.acall("GET", f"/v1/agents/{second.id}")
        assert profile["endpoint"] == second.url and profile["status"] == "active"
        await second.stop()
        status, profile = await manager.acall("GET", f"/v1/agents/{second.id}")
        assert profile["status"] == "deregistered", (status, profile)

    asyncio.run(main())


def test_the_default_token_file_is_the_typescript_sdks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNET_AGENT_HOME", "/tmp/agents")
    assert default_token_file("summ 1", "http://10.0.0.7:8080/") == Path("/tmp/agents/summ_1@10.0.0.7_8080.json")
    assert default_token_file("a", "https://m.example") == Path("/tmp/agents/a@m.example.json")


def test_a_name_taken_without_its_token_is_explained(manager: Manager) -> None:
    async def main() -> None:
        async with started(echo_agent("py-clash", "py.clash"), manager):
            with pytest.raises(NameTaken, match="registered already"):
                await echo_agent("py-clash", "py.clash").start(manager.url, token_file=False, log=lambda _: None)

    asyncio.run(main())


def test_declaration_mistakes_are_named() -> None:
    with pytest.raises(ConfigurationError, match="capability name"):
        Agent("x").capability("Not A Name")
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        Agent("x", max_concurrency=0)
    with pytest.raises(ConfigurationError, match="eta_ms"):
        Agent("x", eta_ms=0)
    with pytest.raises(ConfigurationError, match="at least one capability"):
        asyncio.run(Agent("x").start("http://127.0.0.1:9"))


def test_rotates_its_token_and_works_on_under_the_new_one(manager: Manager, tmp_path: Path) -> None:
    async def main() -> None:
        file = tmp_path / "rotating.json"
        async with started(echo_agent("py-rotating", "py.rotating"), manager, token_file=file) as running:
            before = running.token
            await running.rotate_token()
            assert running.token != before and json.loads(file.read_text())["token"] == running.token
            status, _ = await asyncio.to_thread(
                manager.call, "POST", f"/v1/agents/{running.id}/heartbeat", {}, {"authorization": f"Bearer {before}"}
            )
            assert status == 403
            done = await manager.await_end((await manager.asubmit("py.rotating", 7))["id"])
            assert done["state"] == "completed" and done["output"] == {"by": "py-rotating", "input": 7}

    asyncio.run(main())


def test_registers_again_when_the_manager_has_forgotten_it(manager: Manager) -> None:
    async def main() -> None:
        async with started(echo_agent("py-forgotten", "py.forgotten"), manager, heartbeat_ms=100) as running:
            old = running.id
            status, _ = await asyncio.to_thread(
                manager.call, "DELETE", f"/v1/agents/{old}", None, {"authorization": f"Bearer {running.token}"}
            )
            assert status == 200
            await eventually(lambda: running.id != old, what="a new registration")
            done = await manager.await_end((await manager.asubmit("py.forgotten", 1))["id"])
            assert done["state"] == "completed" and done["award"]["agentId"] == running.id

    asyncio.run(main())


SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from contract_net import Agent

    agent = Agent("py-signalled")

    @agent.capability("py.signalled")
    def work(input):
        return input

    agent.run(sys.argv[1], token_file=False)
    """
)


def spawn_agent(manager_url: str) -> subprocess.Popen[str]:
    script = Path(tempfile.mkdtemp()) / "agent.py"
    script.write_text(SCRIPT)
    return subprocess.Popen(
        [sys.executable, str(script), manager_url, str(ROOT / "packages" / "python" / "src")],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_sigterm_stops_and_deregisters(manager: Manager) -> None:
    proc = spawn_agent(manager.url)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "registered as" in line, line
    agent_id = line.split("registered as ", 1)[1].split(" ", 1)[0]
    status, profile = manager.call("GET", f"/v1/agents/{agent_id}")
    assert profile["status"] == "active"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    status, profile = manager.call("GET", f"/v1/agents/{agent_id}")
    assert profile["status"] == "deregistered"


def test_an_unreachable_manager_is_one_line_and_a_retry_not_a_traceback() -> None:
    proc = spawn_agent("http://127.0.0.1:9")
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "cannot reach the manager at http://127.0.0.1:9 (connection refused)" in line, line
    assert "trying again in 1 s" in line
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(20) == 0
    assert "Traceback" not in rest, rest



def test_after_ctrl_c_deregistered_it_a_restart_registers_again(manager: Manager, tmp_path: Path) -> None:
    async def main() -> None:
        file = tmp_path / "again.json"
        first = await echo_agent("py-again", "py.again").start(manager.url, token_file=file, log=lambda _: None)
        await first.stop()  # deregisters: the saved token is dead
        second = await echo_agent("py-again", "py.again").start(manager.url, token_file=file, log=lambda _: None)
        try:
            assert second.id != first.id and json.loads(file.read_text())["agentId"] == second.id
            done = await manager.await_end((await manager.asubmit("py.again", 2))["id"])
            assert done["state"] == "completed" and done["award"]["agentId"] == second.id
        finally:
            await second.stop()

    asyncio.run(main())
