"""Presidio's regexes, matched without letting go of the GIL.

Presidio matches with the third-party ``regex`` module, which releases the GIL for every
search of an immutable string so that other threads may run meanwhile. A match over a
kilobyte of text takes microseconds, so when several threads scan at once (the online
guard's scan threads, and its event loop, which needs the GIL back after every socket
call) each of the hundred-odd searches of a scan becomes a hand-over of the GIL: two
context switches. Measured here: four threads matching concurrently spent 7.7 times the
CPU of one thread doing the same work (240,000 context switches), and four guard scans in
threads spent about 1.5 times the CPU per scan of one.

With ``concurrent=False`` a match keeps the GIL, as Python's own ``re`` always does; the
scan still yields the GIL to other threads every switch interval like any Python code.
That is done only for texts of up to :data:`HOLD_MAX_CHARS` (a streamed window, a short
answer): over a large body one search can take long enough to stall the event loop, and
there the GIL is let go as before. Only Presidio's own recognizers (and deny lists, which
are escaped words) are changed: a user-configured pattern may backtrack for seconds, and
while it does the scan time-out must still be able to fire on the event loop.
:func:`hold_gil` gives a copy of a recognizer that behaviour without changing what it finds:

* a pattern recognizer gets its own copies of its ``Pattern`` objects (Presidio's
  predefined recognizers share them, class-wide, with every other analyzer in the
  process), compiled up front with its flags and wrapped so that matching passes
  ``concurrent=False``;
* methods (static and class methods too) of the recognizer's class that call the
  ``regex`` module directly (the IBAN recognizer's search and format check) get a copy of
  the function whose global ``re`` is a stand-in module that does the same.

Nothing else changes: the same patterns, flags, time-outs, and match objects.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable
from typing import Any

import regex

__all__ = ["HOLD_MAX_CHARS", "HeldPattern", "concurrent_for", "hold_gil"]

# Texts up to this long are matched holding the GIL: one search of Presidio's patterns over
# them takes well under a millisecond. Longer ones (a large JSON body) let the GIL go, as
# the ``regex`` module does by default, so that one slow search cannot stall the event
# loop and the other scans.
HOLD_MAX_CHARS = 4096

# Where the string to match is among the positional arguments: compiled patterns' matching
# methods, then the module's functions (which take the pattern first).
_PATTERN_STRING_AT = {
    "finditer": 0, "search": 0, "match": 0, "fullmatch": 0, "findall": 0, "split": 0,
    "splititer": 0, "sub": 1, "subn": 1, "subf": 1, "subfn": 1,
}  # fmt: skip
_MODULE_STRING_AT = {name: at + 1 for name, at in _PATTERN_STRING_AT.items()}


def concurrent_for(string: Any) -> bool | None:
    """``concurrent`` for a match over ``string``: False keeps the GIL, None is the default
    (let it go for an immutable string)."""
    return False if isinstance(string, str) and len(string) <= HOLD_MAX_CHARS else None


def _keep_gil(method: Callable[..., Any], at: int) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        string = args[at] if len(args) > at else kwargs.get("string")
        kwargs.setdefault("concurrent", concurrent_for(string))
        return method(*args, **kwargs)

    return call


class HeldPattern:
    """A compiled ``regex`` pattern whose matching methods keep the GIL on texts of up to
    :data:`HOLD_MAX_CHARS`; everything else (``pattern``, ``flags``, ``groups``...) is the
    pattern's own."""

    __slots__ = ("_pattern",)

    def __init__(self, pattern: Any) -> None:
        self._pattern = pattern

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._pattern, name)
        at = _PATTERN_STRING_AT.get(name)
        return attribute if at is None else _keep_gil(attribute, at)

    # The ones Presidio calls, without the indirection.
    def finditer(self, string: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("concurrent", concurrent_for(string))
        return self._pattern.finditer(string, *args, **kwargs)

    def search(self, string: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("concurrent", concurrent_for(string))
        return self._pattern.search(string, *args, **kwargs)

    def match(self, string: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("concurrent", concurrent_for(string))
        return self._pattern.match(string, *args, **kwargs)

    def __repr__(self) -> str:
        return f"HeldPattern({self._pattern!r})"


class _HeldRegexModule(types.ModuleType):
    """The ``regex`` module, but compiled patterns and module-level matching keep the GIL
    (on texts of up to :data:`HOLD_MAX_CHARS`)."""

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(regex, name)
        at = _MODULE_STRING_AT.get(name)
        return attribute if at is None else _keep_gil(attribute, at)

    @staticmethod
    def compile(pattern: Any, flags: int = 0, **kwargs: Any) -> HeldPattern:
        return HeldPattern(regex.compile(pattern, flags, **kwargs))


_HELD_REGEX = _HeldRegexModule("leakguard.pii.regex_gil.regex")


def hold_gil(recognizer: Any) -> Any:
    """A copy of ``recognizer`` whose regex matching keeps the GIL (``recognizer`` itself
    is left as it is: the start-up self-check, :mod:`leakguard.pii.selfcheck`, runs it as
    Presidio made it).

    Only Presidio recognizers (their classes) and pattern recognizers (their ``patterns``)
    are changed; leakguard's own recognizers use Python's ``re``, which never releases it.
    A class whose methods call the ``regex`` module itself (Presidio's IBAN recognizer) is
    the one place where a copy of a Presidio function runs: the copy gets a subclass of its
    class that holds those copies, as no wrapper can reach inside a method.
    """
    twin = copy.copy(recognizer)
    patterns = getattr(recognizer, "patterns", None)
    flags = getattr(recognizer, "global_regex_flags", None)
    if patterns and isinstance(flags, int):
        held = []
        for pattern in patterns:
            copied = copy.copy(pattern)
            copied.compiled_regex = HeldPattern(regex.compile(pattern.regex, flags=flags))
            copied.compiled_with_flags = flags
            held.append(copied)
        twin.patterns = held
    cls = type(recognizer)
    held_cls = _held_class(cls)
    if held_cls is not cls:
        twin.__class__ = held_cls  # checked at start-up against Presidio's own results
    return twin


_CLASSES: dict[type[Any], type[Any]] = {}


def _held_class(cls: type[Any]) -> type[Any]:
    """``cls``, or a subclass of it whose methods that call the ``regex`` module directly
    (in any class of its MRO) see :data:`_HELD_REGEX` instead; ``cls`` when none does."""
    held = _CLASSES.get(cls)
    if held is not None:
        return held
    rebound: dict[str, Any] = {}
    for base in reversed(cls.__mro__):  # subclasses last: the most derived definition wins
        for name, value in vars(base).items():
            twin = _rebind(value)
            if twin is not None:
                rebound[name] = twin
            elif name in rebound:
                del rebound[name]  # overridden by a method that does not use the module
    held = cls
    if rebound:
        rebound["__doc__"] = cls.__doc__
        rebound["__module__"] = cls.__module__
        held = type(cls.__name__, (cls,), rebound)
    _CLASSES[cls] = held
    return held


def _rebind(value: Any) -> Any:
    """A class attribute (function, static or class method) whose code calls the ``regex``
    module as ``re``, with :data:`_HELD_REGEX` in its place; None for anything else."""
    wrapper = type(value) if isinstance(value, staticmethod | classmethod) else None
    function = value.__func__ if wrapper is not None else value
    if not (
        isinstance(function, types.FunctionType)
        and function.__globals__.get("re") is regex
        and _names_global(function.__code__, "re")
    ):
        return None
    twin = _with_held_regex(function)
    return twin if wrapper is None else wrapper(twin)


def _names_global(code: types.CodeType, name: str) -> bool:
    """Does ``code`` (or code nested in it: comprehensions, inner functions) use ``name``?"""
    return name in code.co_names or any(
        isinstance(const, types.CodeType) and _names_global(const, name) for const in code.co_consts
    )


def _with_held_regex(function: types.FunctionType) -> types.FunctionType:
    namespace = dict(function.__globals__)
    namespace["re"] = _HELD_REGEX
    twin = types.FunctionType(
        function.__code__, namespace, function.__name__, function.__defaults__, function.__closure__
    )
    twin.__kwdefaults__ = function.__kwdefaults__
    twin.__qualname__ = function.__qualname__
    twin.__doc__ = function.__doc__
    return twin
