"""A Python agent in the market: scores how readable English text is, and bids by length and load.

    PYTHONPATH=packages/python/src python3 examples/python/readability_agent.py --manager http://127.0.0.1:8080

The work is real: Flesch reading ease and Flesch-Kincaid grade level from counted sentences,
words and syllables. So is the strategy: a price per hundred words over a base fee, a surcharge
that rises with the agent's own load (a busy agent is dearer, so work spreads to idle ones),
refusal when every slot is taken, and in the later iterations of an iterated round an undercut
of the leading offer by one unit, never below what the work costs. Prices are whole units, what
the market pays in when it keeps accounts.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from contract_net import Agent, BidContext, Cfp, Proposal, Refusal, WorkContext

BASE_FEE = 4
PER_HUNDRED_WORDS = 3
#: Below this the work is not worth doing: what undercutting stops at.
FLOOR = 3

INPUT = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 200_000}},
    "required": ["text"],
    "examples": [{"text": "The cat sat on the mat. It was a sunny day, and the cat was happy."}],
}
OUTPUT = {
    "type": "object",
    "properties": {
        "sentences": {"type": "integer"},
        "words": {"type": "integer"},
        "syllables": {"type": "integer"},
        "readingEase": {"type": "number"},
        "gradeLevel": {"type": "number"},
        "verdict": {"type": "string"},
    },
    "required": ["sentences", "words", "syllables", "readingEase", "gradeLevel", "verdict"],
}

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")
VOWEL_GROUPS = re.compile(r"[aeiouy]+")


def syllables(word: str) -> int:
    """Vowel groups, less a silent final e; at least one per word."""
    w = word.lower()
    n = len(VOWEL_GROUPS.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee")) and n > 1:
        n -= 1
    return max(1, n)


def readability(text: str) -> dict[str, Any]:
    words = WORD.findall(text)
    sentences = max(1, len(SENTENCE_END.findall(text.strip() + " ")))
    count = max(1, len(words))
    syl = sum(syllables(w) for w in words)
    ease = 206.835 - 1.015 * (count / sentences) - 84.6 * (syl / count)
    grade = 0.39 * (count / sentences) + 11.8 * (syl / count) - 15.59
    verdict = (
        "very easy" if ease >= 90 else "easy" if ease >= 70 else "plain" if ease >= 60
        else "fairly difficult" if ease >= 50 else "difficult" if ease >= 30 else "very difficult"
    )
    return {
        "sentences": sentences,
        "words": len(words),
        "syllables": syl,
        "readingEase": round(ease, 1),
        "gradeLevel": round(grade, 1),
        "verdict": verdict,
    }


def words_in(task_input: Any) -> int:
    text = task_input.get("text") if isinstance(task_input, dict) else None
    return len(text.split()) if isinstance(text, str) else 0


def make_agent(name: str) -> Agent:
    agent = Agent(name, description="Flesch readability of English text", max_concurrency=4)

    @agent.bid
    def bid(cfp: Cfp, ctx: BidContext) -> Proposal | Refusal:
        if ctx.running + ctx.queued >= ctx.capacity:
            return Refusal("busy")
        words = words_in(cfp.task.input)
        load = (ctx.running + ctx.queued) / ctx.capacity
        price = round((BASE_FEE + PER_HUNDRED_WORDS * words / 100) * (1 + load))
        if cfp.best is not None:
            price = min(price, max(FLOOR, round(cfp.best.cost) - 1))
        eta_ms = 150 + words // 2 + int(300 * load)
        if cfp.task.budget is not None and price > cfp.task.budget:
            return Refusal("over budget")
        return Proposal(cost=price, eta_ms=eta_ms, confidence=0.9)

    @agent.capability(
        "text.readability",
        input_schema=INPUT,
        output_schema=OUTPUT,
        description="Flesch reading ease and grade level of English text",
        tags=["text", "en", "python"],
    )
    def score(input: dict[str, Any], ctx: WorkContext) -> dict[str, Any]:
        ctx.raise_if_cancelled()
        return readability(input["text"])

    return agent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manager", help="the manager's URL (default: $CNET_MANAGER or http://127.0.0.1:8080)")
    parser.add_argument("--name", default="readability-py")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-token-file", action="store_true", help="keep no id and token across restarts")
    args = parser.parse_args()
    make_agent(args.name).run(args.manager, port=args.port, token_file=False if args.no_token_file else None)


if __name__ == "__main__":
    main()
