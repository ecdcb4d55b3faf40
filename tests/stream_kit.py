"""Helpers of the streaming property tests: texts of words, values and separators, and
the one-channel stream through a :class:`ResponseGuard`."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from leakguard.config import OnlineConfig
from leakguard.guard import Guard
from leakguard.online.streaming import ResponseGuard


def joined_texts(
    parts: Sequence[str], separators: Sequence[str], *, max_size: int
) -> st.SearchStrategy[str]:
    """Texts of 1..max_size parts, each followed by a separator."""
    return st.lists(st.sampled_from(list(parts)), min_size=1, max_size=max_size).flatmap(
        lambda picked: st.lists(
            st.sampled_from(list(separators)), min_size=len(picked), max_size=len(picked)
        ).map(lambda seps: "".join(p + s for p, s in zip(picked, seps, strict=True)))
    )


def stream_through(guard: Guard, pieces: list[str], online: OnlineConfig | None = None) -> str:
    """What a client receives when ``pieces`` arrive one by one on one channel."""
    rg = ResponseGuard(guard, online or guard.config.online)
    out = []
    for piece in pieces:
        if rg.append(("c",), piece).due():
            out.append(rg.release(("c",)))
    out.append(rg.close(("c",)))
    return "".join(out)
