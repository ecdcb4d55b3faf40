"""Shared fixtures. Every test runs with the network closed except loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from leakguard.config import LeakGuardConfig, config_fingerprint, parse_config
from leakguard.guard import Guard

_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo


class NetworkAttemptError(AssertionError):
    pass


def _loopback(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return True  # AF_UNIX paths


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _loopback(address):
        raise NetworkAttemptError(f"test tried to reach the network: {address!r}")
    _real_connect(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host not in (None, "localhost") and not _loopback((host,)):
        raise NetworkAttemptError(f"test tried to resolve a network name: {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    """Fail any test that tries to connect anywhere but loopback (offline guarantee)."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


_GUARDS: dict[str, Guard] = {}


@pytest.fixture(scope="session")
def make_guard() -> Callable[..., Guard]:
    """Build a Guard from a config mapping; guards are shared per config (models load once)."""

    def make(data: dict[str, Any] | None = None) -> Guard:
        config = parse_config(data or {})
        key = config_fingerprint(config)
        if key not in _GUARDS:
            _GUARDS[key] = Guard(config)
        return _GUARDS[key]

    return make


@pytest.fixture(scope="session")
def guard(make_guard: Callable[..., Guard]) -> Guard:
    """The guard with the embedded default configuration."""
    return make_guard()


@pytest.fixture
def default_config() -> LeakGuardConfig:
    return LeakGuardConfig()
