"""`rnn-tui serve`: the app as a web page.

The one-line errors run in this process; the page itself is checked against a real
server (`python -m rnn_tui serve`, its own process group, always killed at the end):
over plain HTTP, and in a real headless Chromium driven by Playwright, which reads
what the page's terminal shows, presses a key, closes the page and sees that page's
app and trainer processes end.

The browser test needs Playwright for Python (pip) and a Chromium from the system's
packages (Debian: apt-get install chromium); it is skipped without them. CHROMIUM=path
picks another Chromium build.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rnn_tui.cli import build_parser
from rnn_tui.serve_cmd import app_argv, page_command
from tests.test_cli import run

SERVER_START_S = 60  # the server loads torch once to check the options; a busy machine is slow
PAGE_SHOWN_S = 45  # the page's app starts its trainer, which loads torch too
PROCESSES_END_S = 15  # the app gives its trainer 5 s to save and end
PAGE_OPTIONS = ["--scenario", "adding", "--seq-len", "20", "--hidden", "8", "--eval-every", "50"]

# The page's xterm.js Terminal is out of reach (textual-serve's script keeps it in a
# closure) and it draws on a canvas, so the DOM holds no screen text. xterm.js's
# Terminal constructor assigns this._addonManager: a setter on Object.prototype catches
# each Terminal as it is made; its public buffer API then gives the screen's text.
CATCH_TERMINALS = """
Object.defineProperty(Object.prototype, '_addonManager', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, '_addonManager', {value, writable: true, configurable: true});
    (window.__terminals = window.__terminals || []).push(this);
  },
});
"""
SCREEN_TEXT = """() => {
  const term = (window.__terminals || [])[0];
  if (!term) return null;
  const buffer = term.buffer.active, lines = [];
  for (let row = 0; row < term.rows; row++) {
    const line = buffer.getLine(buffer.viewportY + row);
    lines.push(line ? line.translateToString(true) : '');
  }
  return lines.join('\\n');
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ in this process


def test_serve_passes_the_app_options_to_each_page():
    args = build_parser("serve").parse_args(
        ["--scenario", "adding", "--lr", "0.003", "--bidirectional", "--no-save", "--text", "-odd name.txt",
         "--port", "9000", "--host", "0.0.0.0"])
    argv = app_argv(args, build_parser(None))
    assert "--port=9000" not in argv and not any(a.startswith("--host") for a in argv)
    again = build_parser(None).parse_args(argv)
    for key in ("scenario", "lr", "bidirectional", "no_save", "text", "runs_dir", "device"):
        assert getattr(again, key) == getattr(args, key), key
    command = page_command(argv)
    assert command.startswith("exec ") and "-m rnn_tui" in command and "'--text=-odd name.txt'" in command


def test_serve_help_says_each_page_trains_its_own_model(capsys):
    code, out, _ = run(["serve", "--help"], capsys)
    assert code == 0
    assert "each open page runs its own app and trains its own model" in " ".join(out.lower().split())
    for option in ("--port", "--host", "--scenario", "--arch", "--lr"):
        assert option in out


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_serve_refuses_a_bad_port(port, capsys):
    code, _, err = run(["serve", "--port", port], capsys)
    assert code == 2 and "--port: expected a port from 1 to 65535" in err and len(err.splitlines()) == 1


def test_serve_says_in_one_line_when_the_port_is_taken(capsys, tmp_path, monkeypatch):
    pytest.importorskip("textual_serve")
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(["serve", "--host", "127.0.0.1", "--port", str(port), "--scenario", "adding"], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert f"--port {port}: already in use" in err


def test_serve_checks_the_app_options_before_serving(capsys, tmp_path, monkeypatch):
    pytest.importorskip("textual_serve")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["serve", "--scenario", "nope", "--port", str(free_port())], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "unknown scenario 'nope'" in err


def test_serve_without_textual_serve_says_how_to_install_it(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "textual_serve", None)  # import textual_serve now fails
    monkeypatch.delitem(sys.modules, "textual_serve.server", raising=False)
    monkeypatch.delitem(sys.modules, "rnn_tui.ui.serve_page", raising=False)
    code, _, err = run(["serve"], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "pip install textual-serve" in err


# ------------------------------------------------------------------ a real server


def _get(url: str, host: str | None = None, timeout: float = 5) -> str:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        assert response.status == 200
        return response.read().decode()


def _wait_for_server(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"rnn-tui serve ended with status {process.returncode}: {log.read_text()}")
        with contextlib.suppress(OSError):
            _get(url, timeout=2)
            return
        time.sleep(0.2)
    pytest.fail(f"rnn-tui serve did not answer {url} within {SERVER_START_S} s: {log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    """ctrl+c's way first (the server closes its pages), then kill the whole group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=PROCESSES_END_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`rnn-tui serve` on a free port, in a folder of its own; yields (base url, runs folder)."""
    folder = tmp_path_factory.mktemp("serve")
    port, log = free_port(), folder / "server.log"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")  # the trainer: one core is plenty
    argv = [sys.executable, "-m", "rnn_tui", "serve", "--port", str(port), "--runs-dir", str(folder / "runs"),
            *PAGE_OPTIONS]
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://localhost:{port}/"
        _wait_for_server(process, url, log)
        yield url, folder / "runs", process, log
    finally:
        _stop(process)


def test_serve_answers_http_with_the_app_page(server):
    url, _, _, log = server
    page = _get(url)
    assert 'class="textual-terminal"' in page and "static/js/textual.js" in page
    port = url.rsplit(":", 1)[1].strip("/")
    assert f'data-session-websocket-url="ws://localhost:{port}/ws"' in page
    # Opened from another machine (--host 0.0.0.0), the page connects back to the address it came from.
    assert f'data-session-websocket-url="ws://192.0.2.7:{port}/ws"' in _get(url, host=f"192.0.2.7:{port}")
    assert f'data-session-websocket-url="ws://localhost:{port}/ws"' in _get(url, host="a<b>")  # not a host: ours
    assert _get(url + "static/js/textual.js").startswith("(()=>")
    assert "rnn-tui: open http://localhost:" in log.read_text()


# ------------------------------------------------------------------ in a browser


def _chromium() -> str:
    for path in (os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if path and os.access(path, os.X_OK):
            return path
    pytest.skip("no Chromium: apt-get install chromium (or CHROMIUM=path)")


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid: (parent pid, state, command line) of every process, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            found[int(entry.name)] = (int(fields[1]), fields[0], command)
    return found


def _descendants(pid: int) -> dict[int, str]:
    table, family, grew = _processes(), {pid}, True
    while grew:
        more = {child for child, (parent, _, _) in table.items() if parent in family} - family
        family |= more
        grew = bool(more)
    return {p: table[p][2] for p in family - {pid}}


def _running(pids) -> list[int]:
    table = _processes()
    return [p for p in pids if p in table and table[p][1] not in "ZX"]


def _wait_for_text(page, text: str, seconds: float) -> str:
    deadline, screen = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        screen = page.evaluate(SCREEN_TEXT)
        if screen and text in screen:
            return screen
        time.sleep(0.1)
    pytest.fail(f"the page did not show {text!r} within {seconds} s; it showed:\n{screen}")


@pytest.fixture(scope="module")
def browser_tools():
    """Playwright and a Chromium, or a skip (before the server starts: listed first)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download)")
    chromium = _chromium()
    if not Path("/proc/self/stat").exists():
        pytest.skip("finds the page's processes in /proc (Linux)")
    return sync_api, chromium


def test_a_browser_page_runs_the_app_steps_and_closing_it_ends_its_trainer(browser_tools, server):
    sync_api, chromium = browser_tools
    url, runs, process, log = server
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.add_init_script(CATCH_TERMINALS)
            page.goto(url, wait_until="domcontentloaded")
            screen = _wait_for_text(page, "step 1/", PAGE_SHOWN_S)
            assert "rnn-tui ·" in screen and "adding" in screen

            page.evaluate("() => window.__terminals[0].focus()")
            page.keyboard.press("ArrowRight")
            _wait_for_text(page, "step 2/", 10)

            processes = _descendants(process.pid)
            assert any("multiprocessing" in command for command in processes.values()), processes
            page.close()
            deadline = time.monotonic() + PROCESSES_END_S
            while _running(processes) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not _running(processes), f"still running after the page closed: {processes}\n{log.read_text()}"
        finally:
            browser.close()
    assert list(runs.glob("*/step-*.pt")), "closing the page saves the model, as q does"
    assert process.poll() is None, "the server goes on serving other pages"
