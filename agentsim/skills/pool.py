"""Warm sandbox workers: skill runs that cost the same whatever the size of the parent.

A fresh child per run (`agentsim.skills.sandbox`) pays, every time, for forking the
simulation (a 1.4 GB process at 1,000 residents), starting bubblewrap's namespaces and a
Python interpreter, and loading the runner's modules: tens of milliseconds of CPU, more as
the parent grows. Here a few zygotes (`_runner.zygote`) are started once per process behind
the same wall (`wall_argv`: bubblewrap's namespaces, read-only system, no network), each
with the runner's modules loaded. Each run is a child the zygote forks: it installs its own
resource limits, the seccomp filter and the audit hook exactly as a fresh child does, runs
the one skill and is gone, so no run sees another's state and the skill's code never runs
in the zygote itself. The zygote kills a child past its time; this side kills a zygote that
stops answering, and starts another on the next run.

    pool = warm_pool(wall)                  one per process (a forked process makes its own)
    await pool.run(message, seconds, out_cap, err_keep) -> Reply

Zygotes are started from the pool's own threads, which live as long as the process (a
zygote is bound to its starting thread by bubblewrap's --die-with-parent).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import marshal
import os
import queue
import select
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from agentsim.skills.snapshot import Crowd, Shared
from agentsim.skills.wall import CHILD_ENV, RUNNER_DIR, Wall, wall_argv

REPLY_GRACE = 5.0  # seconds past a run's limit before its zygote is given up on


@dataclass(frozen=True)
class Reply:
    """How one run's child ended: what the runner would have made of a fresh process."""

    rc: int  # exit code, or minus the signal that ended it
    out: bytes
    err: bytes
    timeout: bool
    too_much: bool


class _Gone(Exception):
    """The zygote died or stopped answering."""


class _Zygote:
    def __init__(self, wall: Wall, setup: bytes):
        self.proc = subprocess.Popen(
            wall_argv(wall, [f"{RUNNER_DIR}/_runner.py", "--zygote"]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=dict(CHILD_ENV), start_new_session=True, bufsize=0)
        with contextlib.suppress(OSError):  # a zygote that died at once is found so later
            assert self.proc.stdin is not None
            self.proc.stdin.write(len(setup).to_bytes(8, "big") + setup)
        self.token: str | None = None  # the world whose shared parts it holds
        self.crowd: str | None = None  # the tick whose crowd it holds
        self.states: dict[str, str] = {}  # the object states it holds (not as they start)

    def exchange(self, control: bytes, message: bytes, wait: float,
                 *parts: bytes | None) -> Reply:
        """Send one run (with the shared parts, crowd and changed states it lacks, those not
        None)."""
        fin, fout = self.proc.stdin, self.proc.stdout
        assert fin is not None and fout is not None
        frames = [control, *(p for p in parts if p is not None), message]
        try:
            fin.write(b"".join(len(f).to_bytes(8, "big") + f for f in frames))
        except OSError as err:
            raise _Gone(str(err)) from None
        deadline = time.monotonic() + wait
        head = self._read(fout.fileno(), 8, deadline)
        data = marshal.loads(self._read(fout.fileno(), int.from_bytes(head, "big"), deadline))
        return Reply(int(data["rc"]), bytes(data["out"]), bytes(data["err"]),
                     bool(data["timeout"]), bool(data["too_much"]))

    @staticmethod
    def _read(fd: int, n: int, deadline: float) -> bytes:
        data = bytearray()
        while len(data) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise _Gone("no answer in time")
            chunk = os.read(fd, n - len(data))
            if not chunk:
                raise _Gone("the zygote ended")
            data += chunk
        return bytes(data)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def end(self) -> None:
        """Close its input: it ends once its child has, and its CPU is counted in ours."""
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5.0)
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if f is not None:
                    f.close()


class WarmPool:
    """Up to `size` zygotes behind `wall`, each running one skill at a time. `setup`
    (marshal data, {"api", "seccomp"}: the skill API's compiled code and the system-call
    filter) is sent to each zygote as it starts, for it to make ready once for all its runs
    (`_runner._prepare`); a run's message may then leave out the API's code."""

    def __init__(self, wall: Wall, size: int, setup: bytes = b""):
        self.wall, self.size, self.setup = wall, size, setup or marshal.dumps({})
        self._idle: queue.LifoQueue[_Zygote] = queue.LifoQueue()
        self._all: list[_Zygote] = []
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="agentsim-zyg")
        self.pid = os.getpid()

    async def run(self, message: bytes, seconds: float, out_cap: int, err_keep: int,
                  shared: Shared | None = None, crowd: Crowd | None = None,
                  states: dict[str, str] | None = None) -> Reply:
        """One run on a warm zygote (waits for one to be free). `shared`: the world's parts
        the message leaves out, sent to a zygote the first time it runs on that world;
        `crowd`: the tick's people the message leaves out, sent once per tick likewise;
        `states` (with `shared`): the object states that differ from how they start, which
        the message leaves out: a zygote is sent those that changed since its last run, and
        makes them its own before it forks the run's child (a child given 100 changed
        objects would copy that many pages of the zygote's)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._run, message, seconds,
                                          out_cap, err_keep, shared, crowd, states)

    def _run(self, message: bytes, seconds: float, out_cap: int, err_keep: int,
             shared: Shared | None, crowd: Crowd | None,
             states: dict[str, str] | None = None) -> Reply:
        for attempt in range(2):  # a zygote found dead is replaced once
            z = self._take()
            send = shared is not None and z.token != shared.token
            tell = crowd is not None and z.crowd != crowd.token
            delta = _changed({} if send else z.states, states or {}) \
                if shared is not None else {}
            control = marshal.dumps((float(seconds), int(out_cap), int(err_keep), send, tell,
                                     bool(delta)))
            try:
                reply = z.exchange(control, message, seconds + REPLY_GRACE,
                                   shared.payload if send and shared else None,
                                   crowd.payload if tell and crowd else None,
                                   marshal.dumps(delta) if delta else None)
                if send and shared:
                    z.token = shared.token
                if shared is not None:  # (a tick's states, read-only: kept, not copied)
                    z.states = states or {}
                if tell and crowd:
                    z.crowd = crowd.token
            except _Gone:
                was_dead = not z.alive()  # before this run: another is started for it
                self._drop(z)
                if attempt == 0 and was_dead:
                    continue
                return Reply(-signal.SIGKILL, b"", b"", True, False)
            self._idle.put(z)
            return reply
        raise AssertionError("unreachable")

    def _take(self) -> _Zygote:
        while True:
            try:
                z = self._idle.get_nowait()
            except queue.Empty:
                break
            if z.alive():
                return z
            self._drop(z)
        z = _Zygote(self.wall, self.setup)
        with self._lock:
            self._all.append(z)
        return z

    def _drop(self, z: _Zygote) -> None:
        z.kill()
        with self._lock:
            if z in self._all:
                self._all.remove(z)

    def close(self) -> None:
        """End every zygote (a later run starts new ones)."""
        with self._lock:
            zs, self._all = list(self._all), []
        for z in zs:
            z.end()
        while not self._idle.empty():
            self._idle.get_nowait()


def _changed(held: dict[str, str], wanted: dict[str, str]) -> dict[str, str | None]:
    """What turns the object states `held` into `wanted` (None: as the object starts)."""
    if held is wanted:  # (the same tick's states: every run of a tick but its first)
        return {}
    delta: dict[str, str | None] = {o: s for o, s in wanted.items() if held.get(o) != s}
    delta.update((o, None) for o in held if o not in wanted)
    return delta


_pools: dict[tuple[int, Wall], WarmPool] = {}
_pools_lock = threading.Lock()


def warm_pool(wall: Wall, size: int, setup: bytes = b"") -> WarmPool:
    """This process's pool for `wall` (a forked copy of a process never uses its parent's);
    `setup`: see `WarmPool` (the same for every call in a process)."""
    key = (os.getpid(), wall)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = WarmPool(wall, size, setup)
        return pool


@atexit.register
def close_all() -> None:
    """End this process's warm workers (at exit; a later run starts new ones)."""
    for (pid, _), pool in list(_pools.items()):
        if pid == os.getpid():
            pool.close()
