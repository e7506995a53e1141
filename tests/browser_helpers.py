"""Open a page in headless Chromium and look at it as a person would, over the DevTools protocol.

No browser driver package: Chromium's ``--remote-debugging-pipe`` speaks the DevTools protocol
over two pipes (file descriptors 3 and 4 of the browser, messages ended by a NUL byte), which the
standard library can drive. :func:`look_at` loads a file, waits for it, and returns what a
person (and a test) would check: a full-page screenshot, the console messages and page errors,
every network request the page made, and the on-screen size of each chart.

Chromium comes from Debian's ``chromium`` package (``scripts/test`` installs it when it is absent);
``$EDGEKIT_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--remote-debugging-pipe", "--window-size=1100,900")

# what the page reports about itself once loaded
MEASURE = """(() => {
  const charts = Array.from(document.querySelectorAll('figure.chart svg')).map(svg => {
    const r = svg.getBoundingClientRect();
    return {id: svg.id, width: r.width, height: r.height, shapes: svg.querySelectorAll('path, use, rect').length,
            texts: svg.querySelectorAll('text').length};
  });
  return JSON.stringify({charts, title: document.title, width: document.documentElement.scrollWidth,
                         height: document.documentElement.scrollHeight,
                         fonts: document.fonts ? document.fonts.status : 'n/a'});
})()"""


def chromium() -> str | None:
    """The Chromium binary, or None."""
    named = os.environ.get("EDGEKIT_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Look:
    screenshot: bytes  # PNG of the whole page
    console: list[str] = field(default_factory=list)  # "level: text" of console messages, page errors, log entries
    requests: list[str] = field(default_factory=list)  # every URL the page asked for (the file itself included)
    charts: list[dict[str, Any]] = field(default_factory=list)
    page: dict[str, Any] = field(default_factory=dict)


class _Pipe:
    """One DevTools session over the browser's pipes."""

    def __init__(self, proc: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.proc = proc
        self.out = to_browser
        self.inp = from_browser
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self.inp], [], [], left)
            if ready:
                chunk = os.read(self.inp, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"Chromium closed the pipe (exit {self.proc.poll()})")
                self.buf += chunk
        raw, _, self.buf = self.buf.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        self.next_id += 1
        mid = self.next_id
        message: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == mid:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read_message(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)


class Browser:
    """One headless Chromium, looking at one page after another (each in a fresh tab)."""

    def __init__(self, timeout: float = 60.0) -> None:
        binary = chromium()
        if binary is None:
            raise FileNotFoundError("no Chromium (apt-get install chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="edgekit-chromium-")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()

        def wire() -> None:
            # in the child: fd 3 = what we write, fd 4 = what it writes (moved up first: the pipes may sit on 3 or
            # 4); dup2 makes them inheritable, every other descriptor of ours is not (close_fds=False keeps only those)
            mine = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            theirs = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(mine, 3)
            os.dup2(theirs, 4)

        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     close_fds=False, preexec_fn=wire)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.pipe = _Pipe(self.proc, to_browser_w, from_browser_r)

    def look(self, path: Path, width: int = 1100, height: int = 900, mobile: bool = False,
             full_page: bool = True, media: str = "screen") -> Look:
        """Load ``path`` in a new tab at ``width`` x ``height`` CSS pixels and look at it (a screenshot of the
        whole page, or of the first screen only); ``media="print"`` applies the page's print style."""
        pipe, timeout = self.pipe, self.timeout
        target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        pipe.events.clear()
        try:
            for domain in ("Page", "Runtime", "Log", "Network"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                             "mobile": mobile}, session=session)
            pipe.call("Emulation.setEmulatedMedia", {"media": media}, session=session)
            pipe.call("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=session)
            pipe.wait_for("Page.loadEventFired", timeout=timeout)
            measured = pipe.call("Runtime.evaluate", {"expression": MEASURE, "returnByValue": True}, session=session)
            page = json.loads(measured["result"]["value"])
            shown = page["height"] if full_page else min(height, page["height"])
            shot = pipe.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full_page,
                                                        "clip": {"x": 0, "y": 0, "width": page["width"],
                                                                 "height": shown, "scale": 1}},
                             session=session, timeout=timeout)
            look = Look(base64.b64decode(shot["data"]), charts=page.pop("charts"), page=page)
            for event in pipe.events:
                if event.get("sessionId") != session:
                    continue
                method, params = event.get("method"), event.get("params", {})
                if method == "Runtime.consoleAPICalled":
                    text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                    look.console.append(f"{params.get('type')}: {text}")
                elif method == "Runtime.exceptionThrown":
                    look.console.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
                elif method == "Log.entryAdded":
                    entry = params.get("entry", {})
                    look.console.append(f"{entry.get('level')}: {entry.get('text')} {entry.get('url', '')}".rstrip())
                elif method == "Network.requestWillBeSent":
                    look.requests.append(str(params.get("request", {}).get("url")))
            return look
        finally:
            pipe.call("Target.closeTarget", {"targetId": target})
            pipe.events.clear()

    def close(self) -> None:
        try:
            self.pipe.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.pipe.out)
        os.close(self.pipe.inp)
        shutil.rmtree(self.profile, ignore_errors=True)


def look_at(path: Path, width: int = 1100, height: int = 900, mobile: bool = False, full_page: bool = True) -> Look:
    """One look with a browser of its own."""
    browser = Browser()
    try:
        return browser.look(path, width, height, mobile, full_page)
    finally:
        browser.close()


def is_blank(png: bytes) -> bool:
    """True when the screenshot is (nearly) one colour."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        grey = im.convert("L")
        lo, hi = grey.getextrema()
        colours = grey.getcolors(256) or []
    return hi - lo < 40 or len(colours) < 8
