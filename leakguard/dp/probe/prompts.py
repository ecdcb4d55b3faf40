"""What the probe asks: seeded prompts cut from training records and from a control.

Pure Python (no torch): words are :mod:`leakguard.memorization.normalize`'s lexemes.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from leakguard.exceptions import ConfigError
from leakguard.memorization.normalize import lex

__all__ = ["GROUPS", "ProbeSettings", "Prompt", "cut", "draw_prompts"]

# The groups every result holds, in the order they are generated.
GROUPS = ("training", "repeated", "control")


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """How many prompts, how long, which seed; ``batch_size`` prompts generate together.

    ``sample``: also one sampled continuation per prompt (softmax at ``temperature``,
    seeded by ``seed``, the group and the batch), reported beside the greedy one."""

    prefixes: int = 200
    prefix_words: int = 6
    suffix_words: int = 8
    seed: int = 0
    batch_size: int = 64
    sample: bool = False
    temperature: float = 1.0

    def __post_init__(self) -> None:
        for name in ("prefixes", "prefix_words", "suffix_words", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}"
                )
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ConfigError(
                f"--temperature must be a positive number, got {self.temperature}: 1.0 samples "
                "the model's own distribution, lower values are closer to greedy"
            )


@dataclass(frozen=True, slots=True)
class Prompt:
    """A record cut in two: the prefix as written, and the true suffix (normalized words and
    the original text). ``repeats``: how often the record's text occurs in its corpus."""

    prefix: str
    suffix: tuple[str, ...]
    suffix_text: str
    repeats: int = 1


def cut(text: str, *, prefix_words: int, suffix_words: int) -> Prompt | None:
    """``text`` split after ``prefix_words`` words, or None if no word follows the prefix."""
    words = lex(text)
    if len(words) <= prefix_words:
        return None
    last = min(len(words), prefix_words + suffix_words) - 1
    start = int(words.starts[prefix_words])
    return Prompt(
        prefix=text[: int(words.ends[prefix_words - 1])],
        suffix=tuple(words.words[prefix_words : last + 1]),
        suffix_text=text[start : int(words.ends[last])],
    )


def draw_prompts(
    texts: Sequence[str], settings: ProbeSettings, *, salt: int = 0, repeated_only: bool = False
) -> tuple[list[Prompt], int]:
    """Up to ``settings.prefixes`` prompts from distinct records (seeded), and how many
    records were too short to cut. ``repeated_only``: only records whose text occurs more
    than once (the training data's duplicates, what memorisation studies single out)."""
    counts = Counter(texts)
    distinct = sorted(counts)
    if repeated_only:
        distinct = [t for t in distinct if counts[t] > 1]
    prompts: list[Prompt] = []
    short = 0
    for text in distinct:
        prompt = cut(text, prefix_words=settings.prefix_words, suffix_words=settings.suffix_words)
        if prompt is None:
            short += 1
        else:
            prompts.append(Prompt(prompt.prefix, prompt.suffix, prompt.suffix_text, counts[text]))
    rng = random.Random(settings.seed * 1_000_003 + salt)
    rng.shuffle(prompts)
    return prompts[: settings.prefixes], short
