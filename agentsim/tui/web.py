"""The live view in a browser: `agentsim serve WORLD` and `agentsim run ... --web`.

textual-serve runs a command per browser connection and relays its Textual screen over a
websocket to xterm.js in the page, so the browser shows exactly the terminal live view, keys
and all, for a user whose simulation runs on a remote box. The command served is `agentsim
run` with the user's own run options: each browser tab that connects starts its own run (a
new run directory), and closing the tab ends that run at its last checkpoint.

Only the standard library and click are imported at module level: the CLI imports this module
for every command, and textual-serve is needed only when a server is started.
"""

from __future__ import annotations

import errno
import os
import shlex
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from agentsim.errors import UserError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_WEB_DRIVER = "textual.drivers.web_driver:WebDriver"


def web_options(fn: Any) -> Any:
    """--host, --port and --public-url of the browser view (`serve`, `run --web`)."""
    fn = click.option("--public-url", help="The address browsers use, when a proxy stands in "
                      "front  [default: http://HOST:PORT]")(fn)
    fn = click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT,
                      show_default=True, help="Port of the browser view.")(fn)
    return click.option("--host", default=DEFAULT_HOST, show_default=True,
                        help="Address to listen on (0.0.0.0: every interface).")(fn)


def given_args(ctx: click.Context, drop: set[str]) -> list[str]:
    """The command line of `ctx` as the user gave it (options left at their defaults are
    left out), without the parameters named in `drop`: `run --web` serves that same run."""
    from click.core import ParameterSource

    args: list[str] = []
    for p in ctx.command.params:
        if p.name in drop or ctx.get_parameter_source(p.name) != ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[p.name]
        if isinstance(p, click.Argument):
            args.insert(0, str(value))
        elif isinstance(p, click.Option) and p.is_flag:
            args.append(p.opts[0])
        else:
            args += [max(p.opts, key=len), str(value)]
    return args


def served_in_browser() -> bool:
    """True inside a process textual-serve started: its stdout is a pipe to the server, not
    a terminal, yet the live view (not the headless progress lines) is what must be drawn."""
    return os.environ.get("TEXTUAL_DRIVER") == _WEB_DRIVER


def app_command(run_args: Sequence[str]) -> str:
    """The shell command textual-serve starts per connection: this Python's `agentsim run`
    with `run_args` (quoted, so paths with spaces survive the shell)."""
    return shlex.join([sys.executable, "-m", "agentsim", "run", *run_args])


def public_url(host: str, port: int) -> str:
    """The address a browser uses; the page's websocket address is built from it, so a
    server listening on every interface names this machine rather than 0.0.0.0."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def check_port(host: str, port: int) -> None:
    """Fail with one line (exit 2) before starting when `host:port` cannot be listened on."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
            s.bind((host, port))
    except OSError as e:
        raise _bind_error(host, port, e) from None


def _bind_error(host: str, port: int, e: OSError) -> UserError:
    if e.errno == errno.EADDRINUSE:
        return UserError(f"{host}:{port} is already in use; choose another port",
                         field="--port")
    return UserError(f"cannot listen on {host}:{port}: {e.strerror or e}", field="--host")


def serve(run_args: Sequence[str], *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          url: str | None = None, echo: Callable[[str], None] = print) -> None:
    """Serve `agentsim run RUN_ARGS` in the browser at http://HOST:PORT until Ctrl+C or
    SIGTERM. `url`: the public address when a proxy stands in front (default from host)."""
    check_port(host, port)
    try:
        from textual_serve.server import Server
    except ImportError:
        raise UserError("the browser view needs textual-serve: pip install textual-serve",
                        field="serve") from None
    where = url or public_url(host, port)

    class _Server(Server):
        """textual-serve's server, saying where to look in one line instead of its banner."""

        def initialize_logging(self) -> None:  # its INFO lines would bury the address
            import logging

            logging.basicConfig(level=logging.WARNING, format="%(message)s")

        async def on_startup(self, app: object) -> None:
            echo(f"agentsim: serving the live view at {where} (each browser tab starts its own "
                 "run; Ctrl+C stops)")

        async def handle_websocket(self, request: Any) -> Any:
            sessions[id(request)] = request
            try:
                return await super().handle_websocket(request)
            finally:
                sessions.pop(id(request), None)

        async def on_shutdown(self, app: object) -> None:
            """Stopping: close each browser's connection, so its session tells its run to
            quit and waits for it (aiohttp waits for the sessions, up to a minute), instead
            of leaving runs behind that are still saving after the server is gone."""
            if sessions:
                echo(f"agentsim: stopping {len(sessions)} run(s) started from the browser")
            for request in list(sessions.values()):
                if request.transport is not None:
                    request.transport.close()

    sessions: dict[int, Any] = {}  # the open browser sessions' requests (not hashable)

    server = _Server(app_command(run_args), host=host, port=port, title="agentsim",
                     public_url=where)
    try:
        server.serve()
    except OSError as e:  # taken between the check and the bind
        if e.errno != errno.EADDRINUSE:
            raise
        raise _bind_error(host, port, e) from None
