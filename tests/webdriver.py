"""A minimal W3C WebDriver client for Debian's chromedriver, over the standard library.

Enough for the board's browser test: a session, navigation, finding elements by CSS,
their text, running a script, a screenshot. No test dependency beyond what Debian's
`chromium` and `chromium-driver` packages install.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
# Root in a container needs --no-sandbox; the rest keeps Chromium off the network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def available() -> bool:
    """Whether chromium and chromedriver are installed."""
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Browser:
    """One headless Chromium session through chromedriver."""

    def __init__(self, profile: Path, size: tuple[int, int] = (1280, 1000)) -> None:
        port = _free_port()
        self._driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={port}", "--allowed-ips=127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call("GET", "/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    self._driver.kill()
                    raise
                time.sleep(0.1)
        options = {
            "binary": CHROMIUM,
            "args": [*FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"],
        }
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}
        self._session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self._base + path, data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"webdriver {method} {path}: {exc.read()[:500]!r}") from None

    def _s(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, f"/session/{self._session}{path}", body)

    def get(self, url: str) -> None:
        """Navigate to `url`."""
        self._s("POST", "/url", {"url": url})

    def texts(self, css: str) -> list[str]:
        """The rendered text of every element `css` matches, read in one script: the
        page re-renders as it polls, so a found element may be replaced a moment later."""
        script = "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText)"
        found: list[str] = self.run(script, css)
        return found

    def run(self, script: str, *args: Any) -> Any:
        """Run `script` (a function body) in the page and return its result."""
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def keys(self, css: str, text: str) -> None:
        """Type `text` into the element `css` matches (WebDriver key codes allowed)."""
        found = self._s("POST", "/element", {"using": "css selector", "value": css})
        self._s("POST", f"/element/{found[ELEMENT]}/value", {"text": text})

    def press(self, key: str) -> None:
        """Press and release one key on the focused element (`TAB`, `ENTER`)."""
        code = {"TAB": "\ue004", "ENTER": "\ue007"}.get(key, key)
        keys = [{"type": "keyDown", "value": code}, {"type": "keyUp", "value": code}]
        self._s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": keys}]})

    def resize(self, width: int, height: int) -> None:
        """Set the window's size (a phone: 390 x 844)."""
        self._s("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the viewport to `path`."""
        path.write_bytes(base64.b64decode(self._s("GET", "/screenshot")))
        return path

    def wait_for(self, css: str, contains: str, timeout: float = 60.0) -> str:
        """Wait until an element `css` matches shows `contains`; return its text."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while time.monotonic() < deadline:
            seen = self.texts(css)
            for text in seen:
                if contains in text:
                    return text
            time.sleep(0.25)
        raise AssertionError(f"no {css} showed {contains!r} in {timeout}s; saw {seen}")

    def close(self) -> None:
        """End the session and the driver."""
        try:
            self._s("DELETE", "")
        finally:
            self._driver.terminate()
            try:
                self._driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._driver.kill()
