"""`rnn-tui serve`: the app as a web page, for a projector or a class without terminals.

textual-serve starts one `rnn-tui` process per open page (the app's own options passed
on), and that app starts its own trainer process: each page trains its own model. When
a page closes, textual-serve tells its app to quit; the app leaves as on q, its trainer
saves (unless --no-save) and ends, as when the app runs in a terminal.

The options are checked once here, before the server starts, so a wrong one is a line
in this terminal and not a page that closes at once.
"""

from __future__ import annotations

import argparse
import errno
import shlex
import socket
import sys

from rnn_tui.errors import UserError

DEFAULT_HOST, DEFAULT_PORT = "localhost", 8000
WILDCARD_HOSTS = ("", "0.0.0.0", "::")
SERVER_PACKAGES = ("textual_serve", "aiohttp", "aiohttp_jinja2", "jinja2")

DESCRIPTION = """\
Serve the app as a web page: open the printed address in a browser, on this machine or,
with --host 0.0.0.0, from others (a projector, a class). Each open page runs its own app
and trains its own model, from the options below; closing the page stops its training and
saves it as q does. ctrl+c stops the server."""


def add_options(parser: argparse.ArgumentParser, port_type) -> None:
    """serve's own options; port_type is the CLI's argparse type for a port number."""
    group = parser.add_argument_group("web server")
    group.add_argument("--host", default=DEFAULT_HOST,
                       help=f"the address to listen on (default {DEFAULT_HOST}: this machine only; "
                       "0.0.0.0: every network)")
    group.add_argument("--port", type=port_type, default=DEFAULT_PORT, metavar="P",
                       help=f"the port to listen on (default {DEFAULT_PORT})")


def run(args: argparse.Namespace, app_parser: argparse.ArgumentParser) -> int:
    """Check the options and the port, then serve until ctrl+c."""
    server_class = _server_class()
    _check_app_options(args)
    _check_port(args.host, args.port)
    command = page_command(app_argv(args, app_parser))
    server = server_class(command, host=args.host, port=args.port, title="rnn-tui",
                          shown_url=shown_url(args.host, args.port))
    try:
        server.serve()
    except OSError as err:  # the port was taken between the check and the server's bind
        raise UserError(_bind_problem(args.host, args.port, err)) from None
    return 0


def page_command(argv: list[str]) -> str:
    """The shell command textual-serve runs for each page: this Python, this rnn-tui.
    `exec`: the app replaces the shell, so the server's process is the app itself."""
    return "exec " + shlex.join([sys.executable, "-m", "rnn_tui", *argv])


def app_argv(args: argparse.Namespace, app_parser: argparse.ArgumentParser) -> list[str]:
    """The app's options given to serve, written back as a command line: every option of
    `app_parser` whose parsed value is not its default, in the form `--name=value` (a value
    may start with '-')."""
    argv = []
    for action in app_parser._actions:
        if not action.option_strings or action.dest in ("help", "version"):
            continue
        value = getattr(args, action.dest, action.default)
        if value == action.default:
            continue
        option = action.option_strings[-1]
        argv.append(option if action.nargs == 0 else f"{option}={value}")
    return argv


def shown_url(host: str, port: int) -> str:
    """The address to print: this machine's name when listening on every network."""
    if host in WILDCARD_HOSTS:
        host = socket.gethostname()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _server_class():
    try:
        from rnn_tui.ui.serve_page import PageServer
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] not in SERVER_PACKAGES:
            raise
        raise UserError(f"serve needs the textual-serve package ({err.name} is missing); "
                        "expected it installed: pip install textual-serve") from None
    return PageServer


def _check_app_options(args: argparse.Namespace) -> None:
    """What the app's trainer would refuse, refused now (this loads torch once, here)."""
    from rnn_tui.training.options import resolve
    from rnn_tui.training.trainer import pick_device

    pick_device(args.device)
    resolve(args)


def _check_port(host: str, port: int) -> None:
    """Bind every address `host` names, as the server will, and let go again."""
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise UserError(f"--host {host}: unknown address ({err.strerror}); expected e.g. localhost or 0.0.0.0") \
            from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as err:
                if family == socket.AF_INET6 and err.errno == errno.EADDRNOTAVAIL:
                    continue  # IPv6 is off here; the server skips it too
                raise UserError(_bind_problem(host, port, err)) from None


def _bind_problem(host: str, port: int, err: OSError) -> str:
    if err.errno == errno.EADDRINUSE:
        other = port + 1 if port < 65535 else DEFAULT_PORT
        return f"--port {port}: already in use on {host or 'every network'}; expected a free port, e.g. --port {other}"
    if err.errno == errno.EACCES:
        return f"--port {port}: not allowed for this user; expected a port from 1024 up"
    if err.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine; expected e.g. localhost or 0.0.0.0"
    return f"--host {host} --port {port}: cannot listen there ({err.strerror or err})"
