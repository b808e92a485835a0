"""The web server of `rnn-tui serve`: textual-serve's, with these changes.

Imported only when serving (it needs the textual-serve package; serve_cmd says so in
one line when it is missing).

- It prints one line, the address to open, instead of textual-serve's banner, and
  no line per file a page loads.
- Stopping the server (ctrl+c, SIGTERM) first closes every open page's app as closing
  its page would: the app quits and its trainer saves and ends. textual-serve alone
  would leave them running until its 60 s shutdown timeout.
- The page's links (its scripts and the websocket that runs the app) use the address
  the browser asked for, not the --host the server listens on: with --host 0.0.0.0 a
  page opened from another machine as http://192.168.1.20:8000 must connect back there,
  not to 0.0.0.0.
"""

from __future__ import annotations

import asyncio
import logging
import re

from aiohttp import web
from textual_serve.server import Server

# A Host header that is a plain name or address with an optional port; anything else
# gets the server's own address in its page.
PLAIN_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
# How long a stopping server waits for its pages' apps to save and end (each app
# gives its trainer 5 s).
PAGES_CLOSE_S = 10


class PageServer(Server):
    """One textual-serve server; `command` runs once per open page."""

    def __init__(self, command: str, *, shown_url: str, **options) -> None:
        super().__init__(command, **options)
        self.shown_url = shown_url
        self.own_url = self.public_url
        self.pages: set[asyncio.Task] = set()  # one handler per open page, running its app

    def initialize_logging(self) -> None:
        super().initialize_logging()
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # not a line per file a page loads

    async def on_startup(self, app: web.Application) -> None:
        print(f"rnn-tui: open {self.shown_url} in a browser; each open page runs its own app "
              "and trains its own model. ctrl+c stops the server.", flush=True)

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        # textual-serve builds the page's links from self.public_url; nothing awaits
        # between setting it here and the page being built from it.
        host = request.host or ""
        self.public_url = f"{request.scheme}://{host}" if PLAIN_HOST.fullmatch(host) else self.own_url
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        """One open page: its app runs as long as this handler does."""
        page = asyncio.current_task()
        self.pages.add(page)
        try:
            return await super().handle_websocket(request)
        finally:
            self.pages.discard(page)

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every open page; textual-serve then tells each app to quit and waits for it."""
        pages = set(self.pages)
        for page in pages:
            page.cancel()
        if pages:
            await asyncio.wait(pages, timeout=PAGES_CLOSE_S)
