"""`agentsim serve` / `run --web`: the live view in a real headless Chromium, checked by what
the page draws (a screenshot), and the one-line errors before anything is served."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentsim.cli import main

ROOT = Path(__file__).resolve().parent.parent
SMALLVILLE = ROOT / "worlds" / "smallville"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOT = os.environ.get("AGENTSIM_BROWSER_SHOT")  # where to keep the screenshot, if anywhere
# the flags Chromium needs on a closed network, as root, with no GPU and no screen
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1400,900",
                  "--remote-debugging-port=0", "--remote-allow-origins=*"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_line(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1, result.output
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_serve_a_taken_port_is_one_line_and_exit_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = CliRunner().invoke(main, ["serve", str(SMALLVILLE), "--port", str(port)])
        _one_line(r, "--port", f"127.0.0.1:{port} is already in use")
        r = CliRunner().invoke(main, ["run", str(SMALLVILLE), "--web", "--port", str(port)])
        _one_line(r, f"127.0.0.1:{port} is already in use")


def test_serve_refuses_headless_and_checks_run_options_before_serving():
    r = CliRunner().invoke(main, ["serve", str(SMALLVILLE), "--headless"])
    _one_line(r, "leave out --headless")
    r = CliRunner().invoke(main, ["serve", str(SMALLVILLE), "--hours", "-1"])
    assert r.exit_code == 2 and "-1 is not > 0" in r.output


def test_run_web_serves_the_same_run_options(monkeypatch):
    """`run --web` serves `agentsim run` with the options given, less the web ones."""
    import agentsim.tui.web as web

    seen = {}
    monkeypatch.setattr(web, "serve", lambda args, **kw: seen.update(args=args, **kw))
    r = CliRunner().invoke(main, ["run", str(SMALLVILLE), "--web", "--hours", "2", "--seed",
                                  "3", "--embedder", "hash", "--no-skills", "--port", "8123"])
    assert r.exit_code == 0, r.output
    assert seen["args"] == [str(SMALLVILLE), "--hours", "2.0", "--seed", "3", "--embedder",
                            "hash", "--no-skills"]
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
    assert web.app_command(seen["args"]).split()[1:4] == ["-m", "agentsim", "run"]


def test_the_served_app_draws_the_live_view_not_the_headless_lines(monkeypatch):
    from agentsim.tui.web import served_in_browser

    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    assert not served_in_browser()
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert served_in_browser()


# -- the browser ------------------------------------------------------------------------------


class _CDP:
    """The few Chrome DevTools protocol calls the test needs, over one page's websocket."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def js(self, expr: str):
        return self.call("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get(
            "value")


def _wait(what: str, check, timeout: float, procs=()):
    """Poll `check` until true; fail early, with their output, when a process died."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        for p in procs:
            if p.poll() is not None:
                pytest.fail(f"{what}: {p.args[0]} exited {p.returncode}")
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def _devtools_port(user_dir: Path, proc: subprocess.Popen) -> int:
    f = user_dir / "DevToolsActivePort"
    return int(_wait("Chromium's DevTools port", lambda: f.exists() and f.read_text().split()
                     and f.read_text().split()[0], 180, [proc]))


def _page_ws(port: int) -> str | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
        pages = [t for t in json.load(r) if t["type"] == "page"]
    return pages[0]["webSocketDebuggerUrl"] if pages else None


def _app_drawn(png: bytes) -> tuple[int, int, int, float]:
    """(width, height, distinct colours, share of pixels unlike the page's background)."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    small = img.resize((img.width // 2, img.height // 2))
    colours = small.getcolors(maxcolors=1 << 20) or []
    background = max(colours)[1]
    unlike = sum(n for n, c in colours
                 if sum(abs(a - b) for a, b in zip(c, background, strict=True)) > 40)
    return img.width, img.height, len(colours), unlike / (small.width * small.height)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install chromium "
                    "chromium-driver (.ci/run installs it)")
def test_serve_shows_the_live_view_in_headless_chromium(tmp_path):
    pytest.importorskip("textual_serve")
    pytest.importorskip("PIL")
    from websockets.sync.client import connect
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "agentsim", "serve", str(SMALLVILLE), "--port", str(port),
         "--llm", "offline", "--embedder", "hash", "--hours", "1", "--no-skills",
         "--out", str(tmp_path / "runs")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    user_dir = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))
    browser = None
    stack = contextlib.ExitStack()
    try:
        url = f"http://127.0.0.1:{port}"
        first = server.stdout.readline()
        assert f"serving the live view at {url}" in first, first

        browser = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={user_dir}",
                                    f"{url}/?fontsize=12"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        devtools = _devtools_port(user_dir, browser)
        page_url = _wait("the page's DevTools target", lambda: _page_ws(devtools), 60, [browser])
        ws = stack.enter_context(connect(page_url, max_size=64 * 2**20))
        page = _CDP(ws)
        # the app's first bytes reached the terminal in the page (textual.js marks the body)
        _wait("the app's first screen", lambda: page.js(
            "document.body.classList.contains('-first-byte')"), 180, [server, browser])
        assert page.js("document.querySelector('#terminal canvas') !== null")
        # the live view is up once the run has written its first tick to its run directory
        runs = tmp_path / "runs"
        _wait("the served run's first events", lambda: any(
            f.stat().st_size > 0 for f in runs.glob("*/events.jsonl")), 240, [server, browser])
        # a user clicks into the page: the app has the focus, and its footer shows the keys
        for kind in ("mousePressed", "mouseReleased"):
            page.call("Input.dispatchMouseEvent", type=kind, x=600, y=300, button="left",
                      clickCount=1)
        # the live view reaches the canvas: many colours over much of it (not a blank page or
        # the intro card); screenshots are taken until it has, 180 s being only a hang guard
        def drawn_app() -> bytes | None:
            shot = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
            _, _, colours, drawn = _app_drawn(shot)
            return shot if colours >= 8 and drawn >= 0.2 else None

        png = _wait("the live view drawn on the page", drawn_app, 180,
                    [server, browser])
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        width, height, _, _ = _app_drawn(png)
        assert width >= 800 and height >= 500, (width, height)
        if SHOT:
            Path(SHOT).parent.mkdir(parents=True, exist_ok=True)
            Path(SHOT).write_bytes(png)
        stack.close()
    finally:
        # the server stops first, with the browser still watching: it ends that run
        server.send_signal(signal.SIGTERM)
        try:
            out, _ = server.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise
        finally:
            if browser is not None:
                os.killpg(browser.pid, signal.SIGTERM)
                browser.wait(timeout=30)
    assert server.returncode == 0, out
    assert "stopping 1 run(s) started from the browser" in out, out
    # the run the browser started was saved before the server ended (its stdout closes only
    # as it exits), and no process of it stays behind (allowing for it to be reaped)
    _wait("the served run's processes to be gone", lambda: subprocess.run(
        ["pgrep", "-s", str(server.pid)], capture_output=True, text=True).stdout.strip() == "",
        30)
    [manifest] = (tmp_path / "runs").glob("*/manifest.json")
    assert "events" in json.loads(manifest.read_text())  # written as the run ended
