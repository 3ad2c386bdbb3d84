"""Prompt caching benchmark: a 20-turn scripted session against FakeAnthropic.

Prints the share of input tokens read from cache after turn 1, and the session's cost with
and without caching (the same session with every cache_control stripped), at Sonnet-like
prices. Uses the real AnthropicModel, the bwrap sandbox and FakeAnthropic's accounting.

    .venv/bin/python bench/bench_caching.py [--turns 20]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path
from typing import Any

import structlog

from factory.agent.model import AnthropicModel
from factory.agent.session import Session, SessionConfig, sandbox_registry
from factory.config.harness import load_harness
from factory.interfaces import Usage
from factory.sandbox import make_sandbox
from factory.store import RunStore
from factory.testing.fake_anthropic import FakeAnthropic, FakeReply

HARNESS = "The factory floor: rules every automation follows. " * 400
INSTRUCTIONS = "You are the feature builder. Implement the issue, run the tests. " * 60
CONTEXT = '<subject trust="maintainers" author="ann">\nAdd pagination to /runs.\n</subject>'

SONNET_PRICES = load_harness(Path(__file__).resolve().parents[1] / "harness").policy.prices[
    "claude-sonnet-5"
]
"""The shipped policy's Sonnet prices: the one price table."""


def run_session(turns: int, cache: bool, workspace: Path, db: Path) -> list[Usage]:
    """Run one scripted session of ``turns`` model calls; return each call's usage.

    The session records into a real RunStore at ``db``; the usage is read back from it.
    """
    with FakeAnthropic() as fake, RunStore.open(db) as store:

        def respond(body: dict[str, Any]) -> FakeReply:
            n = len(fake.requests)
            if n >= turns:
                return FakeReply([{"type": "text", "text": "Done."}])
            command = f"sed -n '{n * 10},{n * 10 + 40}p' big.txt"
            text = f"Looking at part {n} of the file before editing. " * 3
            return FakeReply(
                [
                    {"type": "text", "text": text},
                    {"type": "tool_use", "name": "bash", "input": {"command": command}},
                ]
            )

        fake.responder = respond
        model = AnthropicModel("bench-key", fake.base_url, max_retries=0)
        config = SessionConfig(
            model="claude-sonnet-bench", max_turns=turns + 1, soft_fraction=1.0, cache=cache
        )
        run_id = store.create_run(f"bench-{'cache' if cache else 'nocache'}")
        session = Session(
            model,
            sandbox_registry(make_sandbox("bwrap"), workspace, config),
            config,
            store,
            run_id,
            SONNET_PRICES.cost_usd,
        )
        session.run([HARNESS, INSTRUCTIONS], CONTEXT)
        model.close()
        responses = [s for s in store.steps(run_id) if s.kind == "model_response"]
    return [
        Usage(s.input_tokens, s.output_tokens, s.cache_write_tokens, s.cache_read_tokens)
        for s in responses
    ]


def main() -> None:
    """Run the session with and without caching and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20)
    turns = parser.parse_args().turns
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as data:
        workspace = Path(tmp)
        lines = (f"line {i}: some source text that the agent reads" for i in range(2000))
        (workspace / "big.txt").write_text("\n".join(lines))
        cached = run_session(turns, True, workspace, Path(data) / "cached.db")
        uncached = run_session(turns, False, workspace, Path(data) / "uncached.db")
    later = cached[1:]
    read = sum(u.cache_read_input_tokens for u in later)
    total = sum(
        u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens for u in later
    )
    cost_cached = sum(SONNET_PRICES.cost_usd(u) for u in cached)
    cost_uncached = sum(SONNET_PRICES.cost_usd(u) for u in uncached)
    print(f"turns: {len(cached)} (model calls)")
    print(f"input tokens after turn 1: {total}, read from cache: {read} ({read / total:.1%})")
    print(f"cost with caching:    ${cost_cached:.4f}")
    print(f"cost without caching: ${cost_uncached:.4f}")
    print(f"saving: {1 - cost_cached / cost_uncached:.1%}")


if __name__ == "__main__":
    main()
