"""Tests run offline: any connection to a non-loopback address (and any DNS lookup of a
remote name) raises RuntimeError("network access in tests: ..."), and no environment variable
can point a test at a real LLM. A blocked attempt also fails the test at teardown, even when
a library swallowed the error (the OpenAI SDK turns it into a connection error, which the LLM
client retries and then answers from the fallback); a test that means to hit the guard
clears the `offline` fixture's list.

No test measures time: a test of concurrency holds its fake's calls on `in_flight_gate` until
the number it claims are in flight together (latency figures live in benchmarks/)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_create_connection = socket.create_connection
_real_getaddrinfo = socket.getaddrinfo

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", socket.gethostname()}


def _is_local(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]")
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_attempts: list[str] = []


def _blocked(address: object) -> RuntimeError:
    if isinstance(address, bytes):
        address = address.decode()
    _attempts.append(repr(address))
    return RuntimeError(f"network access in tests: {address!r}")


def _guard_connect(real):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            raise _blocked(address)
        return real(self, address)

    return connect


def _create_connection(address, *args, **kwargs):
    if not _is_local(address[0]):
        raise _blocked(address)
    return _real_create_connection(address, *args, **kwargs)


def _getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        try:  # an IP literal needs no lookup; connect() decides about it
            ipaddress.ip_address(str(host.decode() if isinstance(host, bytes) else host))
        except ValueError:
            raise _blocked(host) from None
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guard_connect(_real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guard_connect(_real_connect_ex))
    monkeypatch.setattr(socket, "create_connection", _create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", _getaddrinfo)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENTSIM_LLM", "AGENTSIM_LLM_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("AGENTSIM_EMBED_CACHE", "off")  # no cache shared across runs (opt in)
    _attempts.clear()
    yield _attempts
    if _attempts:
        tried = ", ".join(dict.fromkeys(_attempts))
        _attempts.clear()
        pytest.fail(f"network access in tests: {tried}", pytrace=False)


@pytest.fixture
def prompts(tmp_path):
    """A prompt library with one template, `echo` (variables `who` and `what`); test modules
    that need other templates define their own."""
    from agentsim.llm.prompts import PromptLibrary

    (tmp_path / "echo.j2").write_text("[system]\nYou are {{ who }}.\n[user]\nSay {{ what }}.\n")
    return PromptLibrary(tmp_path)


class InFlightGate:
    """Holds every call that awaits `hold()` until `n` are inside at once, then lets them all
    (and every later call) through. Awaited inside a fake LLM or a fake server's responder, it
    makes a concurrency test independent of the machine's speed: the run can only go on if `n`
    calls really were in flight together. `hang_guard` seconds without reaching `n` open the
    gate anyway, so a serialising bug ends the run instead of hanging it, and `check()` then
    fails naming the peak. Used from one event loop (the fake's)."""

    def __init__(self, n: int, hang_guard: float = 120.0):
        self.n = n
        self.hang_guard = hang_guard
        self.now = 0  # calls inside hold()
        self.peak = 0
        self.reached = False  # n were inside at once
        self._open = asyncio.Event()

    async def hold(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            if self.now >= self.n:
                self.reached = True
                self._open.set()
            if not self._open.is_set():
                try:
                    await asyncio.wait_for(self._open.wait(), self.hang_guard)
                except TimeoutError:
                    self._open.set()  # let the run end; check() reports it
        finally:
            self.now -= 1

    def check(self) -> None:
        assert self.reached, (f"never {self.n} calls in flight together: at most {self.peak} "
                              f"within {self.hang_guard:g} s (the calls are serialised)")


@pytest.fixture
def in_flight_gate():
    """`gate = in_flight_gate(n)`: an InFlightGate (above); `gate.check()` after the run."""
    return InFlightGate


class ManualClock:
    """Stands in for the `time` module of the LLM stack's watchdog: time moves only when the
    test says so (`advance`), or by `step` at every reading once a test sets it (so a hung
    call is given up after a known number of looks, however slow the machine)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.step = 0.0

    def monotonic(self) -> float:
        self.now += self.step
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def watchdog_clock(monkeypatch):
    """The watchdog's clock made a ManualClock: an outage is timed by the test, not the
    machine (a loaded machine could otherwise take `give_up_after` over one quick call)."""
    from agentsim.llm.wrappers import watchdog

    clock = ManualClock()
    monkeypatch.setattr(watchdog, "time", clock)
    return clock
