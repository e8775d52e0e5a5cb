"""The sample agent of examples/python: its work, its strategy, and a task won in the market."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone

from conftest import ROOT, Manager, started

sys.path.insert(0, str(ROOT / "examples" / "python"))

from readability_agent import make_agent, readability  # noqa: E402

from contract_net import BidContext, Best, Cfp, Proposal, Refusal, TaskSpec  # noqa: E402


def cfp(text: str, best: Best | None = None, budget: float | None = None) -> Cfp:
    task = TaskSpec("01900000-0000-7000-8000-000000000001", "text.readability", {"text": text}, budget, None, 0)
    return Cfp(task.id, 1, datetime.now(timezone.utc), task, 2 if best else 1, best)


def test_scores_text_by_flesch() -> None:
    easy = readability("The cat sat on the mat. It was a sunny day, and the cat was happy.")
    assert easy["sentences"] == 2 and easy["words"] == 16 and easy["verdict"] == "very easy"
    hard = readability("Notwithstanding considerable institutional heterogeneity, reorganisation necessitates deliberation.")
    assert hard["readingEase"] < 0 < hard["gradeLevel"] - 12


def test_bids_by_length_and_load_and_undercuts_to_a_floor() -> None:
    bid = make_agent("t")._bid
    assert bid is not None
    idle, busy = BidContext(0, 0, 4), BidContext(3, 0, 4)
    short, long = bid(cfp("word " * 10), idle), bid(cfp("word " * 1000), idle)
    assert isinstance(short, Proposal) and isinstance(long, Proposal) and short.cost < long.cost
    loaded = bid(cfp("word " * 10), busy)
    assert isinstance(loaded, Proposal) and loaded.cost > short.cost and loaded.eta_ms > short.eta_ms
    assert isinstance(bid(cfp("word"), BidContext(4, 0, 4)), Refusal)
    undercut = bid(cfp("word " * 1000, Best(cost=20, eta_ms=100)), idle)
    assert isinstance(undercut, Proposal) and undercut.cost == 19
    floor = bid(cfp("word " * 1000, Best(cost=1, eta_ms=100)), idle)
    assert isinstance(floor, Proposal) and floor.cost == 3
    assert isinstance(bid(cfp("word " * 1000, budget=5), idle), Refusal)


def test_wins_a_readability_task(manager: Manager) -> None:
    async def main() -> None:
        async with started(make_agent("readability-test"), manager) as running:
            task = await manager.asubmit("text.readability", {"text": "Short words win. They are easy to read."})
            done = await manager.await_end(task["id"])
            assert done["state"] == "completed" and done["award"]["agentId"] == running.id, done
            assert done["output"]["verdict"] in ("very easy", "easy")

    asyncio.run(main())
