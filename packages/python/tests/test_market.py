"""A Python agent in a real market: tasks won and completed, the work pool, failures, rounds of every kind."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from conftest import Manager, eventually, started

from contract_net import Agent, BidContext, Cfp, Proposal, Refusal, WorkContext, deferred


def test_wins_and_completes_a_task_with_published_schemas(manager: Manager) -> None:
    async def main() -> None:
        agent = Agent("py-upper", description="upper-cases text")
        schema_in = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
        schema_out = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}

        @agent.capability("py.upper", input_schema=schema_in, output_schema=schema_out, tags=["text"])
        def upper(input: Any) -> Any:
            return {"text": input["text"].upper()}

        async with started(agent, manager) as running:
            status, profile = await manager.acall("GET", f"/v1/agents/{running.id}")
            assert status == 200
            cap = profile["capabilities"][0]
            assert cap["name"] == "py.upper" and cap["inputSchema"] == schema_in and cap["outputSchema"] == schema_out
            task = await manager.asubmit("py.upper", {"text": "hello"})
            done = await manager.await_end(task["id"])
            assert done["state"] == "completed", done
            assert done["output"] == {"text": "HELLO"}
            assert done["award"]["agentId"] == running.id
            # The manager refuses input the published schema does not accept, before any agent sees it.
            status, refused = await manager.acall("POST", "/v1/tasks", {"capability": "py.upper", "input": {"n": 1}})
            assert status == 422, refused

    asyncio.run(main())


def test_async_work_runs_on_the_loop_and_the_pool_bounds_it(manager: Manager) -> None:
    async def main() -> None:
        agent = Agent("py-bounded", max_concurrency=2)
        now = {"running": 0, "most": 0}

        @agent.capability("py.bounded")
        async def work(input: Any, ctx: WorkContext) -> Any:
            now["running"] += 1
            now["most"] = max(now["most"], now["running"])
            await asyncio.sleep(0.15)
            now["running"] -= 1
            return {"n": input["n"], "award": ctx.award_id, "cost": ctx.cost}

        async with started(agent, manager):
            tasks = await asyncio.gather(*(manager.asubmit("py.bounded", {"n": i}) for i in range(5)))
            done = await asyncio.gather(*(manager.await_end(t["id"]) for t in tasks))
            assert [d["state"] for d in done] == ["completed"] * 5, done
            assert sorted(d["output"]["n"] for d in done) == list(range(5))
            assert all(d["output"]["cost"] == 1.0 and d["output"]["award"] for d in done)
            assert now["most"] == 2

    asyncio.run(main())


def test_a_failure_is_reported_with_its_reason_and_output_must_be_json(manager: Manager) -> None:
    async def main() -> None:
        agent = Agent("py-failing")

        @agent.capability("py.fails")
        def fails(input: Any) -> Any:
            if input == "set":
                return {1, 2}
            raise ValueError("n must be positive")

        async with started(agent, manager):
            failed = await manager.await_end((await manager.asubmit("py.fails", "x", maxAttempts=1))["id"])
            assert failed["state"] == "failed", failed
            status, bids = await manager.acall("GET", f"/v1/tasks/{failed['id']}/events")
            assert status == 200
            assert "n must be positive" in str(bids), bids
            not_json = await manager.await_end((await manager.asubmit("py.fails", "set", maxAttempts=1))["id"])
            assert not_json["state"] == "failed"
            status, events = await manager.acall("GET", f"/v1/tasks/{not_json['id']}/events")
            assert "the output is not JSON" in str(events), events

    asyncio.run(main())


def test_cancel_reaches_async_and_plain_work(manager: Manager) -> None:
    async def main() -> None:
        agent = Agent("py-cancellable", max_concurrency=2)
        began = asyncio.Event()
        cancelled = asyncio.Event()
        thread_began = threading.Event()
        thread_saw_cancel = threading.Event()

        @agent.capability("py.cancel.async")
        async def slow(input: Any) -> Any:
            began.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return "never"

        @agent.capability("py.cancel.plain")
        def slow_plain(input: Any, ctx: WorkContext) -> Any:
            thread_began.set()
            if ctx.cancel_token.wait(60):
                thread_saw_cancel.set()
            ctx.raise_if_cancelled()
            return "never"

        async with started(agent, manager):
            task = await manager.asubmit("py.cancel.async", {})
            await asyncio.wait_for(began.wait(), 15)
            status, _ = await manager.acall("POST", f"/v1/tasks/{task['id']}/cancel")
            assert status == 200
            await asyncio.wait_for(cancelled.wait(), 15)
            assert (await manager.await_end(task["id"]))["state"] == "cancelled"

            plain = await manager.asubmit("py.cancel.plain", {})
            await eventually(thread_began.is_set, what="the plain work to start")
            status, _ = await manager.acall("POST", f"/v1/tasks/{plain['id']}/cancel")
            assert status == 200
            await eventually(thread_saw_cancel.is_set, what="the cancel to reach the thread")

    asyncio.run(main())


def test_deferred_bids_are_posted_when_decided(manager: Manager) -> None:
    async def main() -> None:
        agent = Agent("py-deferring")
        asked: list[int] = []

        @agent.bid
        def bid(cfp: Cfp, ctx: BidContext) -> Any:
            asked.append(cfp.round)

            async def decide() -> Proposal:
                await asyncio.sleep(0.05)
                return Proposal(cost=2, eta_ms=400)

            return deferred(decide)

        @agent.capability("py.deferred")
        def work(input: Any) -> Any:
            return {"ok": True}

        async with started(agent, manager) as running:
            task = await manager.asubmit("py.deferred", {}, bidWindowMs=5000)
            done = await manager.await_end(task["id"])
            assert done["state"] == "completed", done
            status, bids = await manager.acall("GET", f"/v1/tasks/{task['id']}/bids")
            mine = [b for b in bids["items"] if b["agentId"] == running.id]
            assert mine and mine[0]["cost"] == 2 and mine[0]["etaMs"] == 400, bids
            assert asked == [1]

    asyncio.run(main())


def test_an_iterated_round_shows_the_bid_hook_its_iteration_and_the_best_offer(manager: Manager) -> None:
    async def main() -> None:
        steady = Agent("py-steady", cost=5, eta_ms=100)
        haggler = Agent("py-haggler")
        seen: list[tuple[int, Any]] = []

        @haggler.bid
        def haggle(cfp: Cfp) -> Proposal:
            seen.append((cfp.iteration, cfp.best))
            return Proposal(cost=cfp.best.cost - 1 if cfp.best else 6, eta_ms=100)

        for a in (steady, haggler):
            a.capability("py.haggle")(lambda input: {"ok": True})
        async with started(steady, manager), started(haggler, manager) as h:
            task = await manager.asubmit(
                "py.haggle", {}, iterations=2, shortlist=2, weights={"cost": 1, "time": 0, "reputation": 0}
            )
            done = await manager.await_end(task["id"])
            assert done["state"] == "completed", done
            assert done["award"]["agentId"] == h.id and done["award"]["cost"] == 4
            assert seen[0] == (1, None)
            assert seen[1][0] == 2 and seen[1][1].cost == 5

    asyncio.run(main())


def test_subcontracts_from_plain_and_async_work(manager: Manager) -> None:
    async def main() -> None:
        child = Agent("py-child", cost=0.25, eta_ms=200)
        parent = Agent("py-parent", cost=1, max_concurrency=2)

        @child.capability("py.sub.double")
        def double(input: Any) -> Any:
            return input["n"] * 2

        @parent.capability("py.sub.plain")
        def plain(input: Any, ctx: WorkContext) -> Any:
            return {"child": ctx.subcontract("py.sub.double", {"n": input["n"]})}

        @parent.capability("py.sub.async")
        async def in_loop(input: Any, ctx: WorkContext) -> Any:
            return {"child": await ctx.asubcontract("py.sub.double", {"n": input["n"]}, budget=0.5)}

        async with started(child, manager), started(parent, manager):
            a = await manager.asubmit("py.sub.plain", {"n": 4})
            b = await manager.asubmit("py.sub.async", {"n": 5})
            da, db = await manager.await_end(a["id"]), await manager.await_end(b["id"])
            assert da["state"] == "completed" and da["output"] == {"child": 8}, da
            assert db["state"] == "completed" and db["output"] == {"child": 10}, db
            status, subtasks = await manager.acall("GET", "/v1/tasks?capability=py.sub.double")
            parents = {t["parentId"] for t in subtasks["items"]}
            assert parents == {a["id"], b["id"]}

    asyncio.run(main())


def test_a_python_and_a_typescript_agent_bid_in_the_same_round(manager: Manager) -> None:
    async def main() -> None:
        agent = Agent("py-echo", cost=1, eta_ms=500)

        @agent.capability("mixed.echo")
        def echo(input: Any) -> Any:
            return {"echoed": input, "by": "python"}

        async with started(agent, manager) as running:
            task = await manager.asubmit("mixed.echo", {"hi": 1}, weights={"cost": 1, "time": 0, "reputation": 0})
            done = await manager.await_end(task["id"])
            assert done["state"] == "completed" and done["output"] == {"echoed": {"hi": 1}, "by": "python"}, done
            status, bids = await manager.acall("GET", f"/v1/tasks/{task['id']}/bids")
            by_agent = {b["agentId"]: b for b in bids["items"]}
            assert by_agent[running.id]["cost"] == 1 and by_agent[manager.ts_agent_id]["cost"] == 5, bids

    asyncio.run(main())


def test_a_pull_only_agent_takes_queued_work(manager: Manager) -> None:
    async def main() -> None:
        agent = Agent("py-puller")

        @agent.bid
        def never(cfp: Cfp) -> Refusal:
            raise AssertionError("a pull-only agent is never asked to bid")

        @agent.capability("py.pull")
        def work(input: Any, ctx: WorkContext) -> Any:
            return {"claimed": ctx.cost is None, "n": input["n"]}

        async with started(agent, manager, pull_only=True, wait_ms=2000) as running:
            assert running.url is None
            status, profile = await manager.acall("GET", f"/v1/agents/{running.id}")
            assert profile["endpoint"] is None
            task = await manager.asubmit("py.pull", {"n": 3})
            done = await manager.await_end(task["id"])
            assert done["state"] == "completed" and done["output"] == {"claimed": True, "n": 3}, done

    asyncio.run(main())


def test_an_inline_result_answers_the_award_itself(manager: Manager) -> None:
    async def main() -> None:
        agent = Agent("py-inline", inline_result_ms=2000)

        @agent.capability("py.inline")
        def quick(input: Any) -> Any:
            return {"quick": True}

        async with started(agent, manager) as running:
            reports: list[Any] = []
            report = running.manager.report
            running.manager.report = lambda *a: reports.append(a) or report(*a)
            done = await manager.await_end((await manager.asubmit("py.inline", {}))["id"])
            assert done["state"] == "completed" and done["output"] == {"quick": True}, done
            assert reports == []

    asyncio.run(main())
