"""Photograph a web page in headless chromium, after clicking what a reader would click.

    python docs/shoot.py URL OUT.png [--click TEXT ...] [--wait-for TEXT] [--map HOST=IP]

``chromium --headless --screenshot`` cannot click, so the MLflow runs table would show its parent run
collapsed and no metric columns. This drives chromium over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: NUL-terminated JSON on file descriptors 3 and 4), so it needs nothing beyond
the standard library. ``--click TEXT`` clicks the first visible element whose ``aria-label``,
``data-testid`` or text is TEXT (``css:SELECTOR`` names it by selector, ``key:Escape`` presses a key),
one after another; ``--map`` resolves a host name to an address inside chromium
(the MLflow UI opens its assistant panel on ``localhost``/``127.0.0.1`` names, not on others).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

FIND = """(text) => {
  const seen = (el) => el.offsetParent !== null || el.getClientRects().length > 0;
  const all = [...document.querySelectorAll('[aria-label],[data-testid],button,a,span,div,label,li')];
  return all.find(el => seen(el) && (el.getAttribute('aria-label') === text || el.getAttribute('data-testid') === text))
      || all.filter(el => seen(el) && el.textContent.trim() === text).pop();
}"""


class Chromium:
    def __init__(self, width: int, height: int, host_rules: str | None) -> None:
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if not binary:
            raise SystemExit("chromium not found: apt-get install chromium")
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def wire() -> None:  # chromium reads commands on fd 3 and writes replies on fd 4
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-pipe",
            f"--window-size={width},{height}",
            f"--user-data-dir={tempfile.mkdtemp()}",
            "about:blank",
        ]
        if host_rules:
            args.insert(1, f"--host-resolver-rules={host_rules}")
        self.proc = subprocess.Popen(args, preexec_fn=wire, pass_fds=(3, 4), stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._id = 0
        page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def call(self, method: str, session: bool = False, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium closed the pipe during {method}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate", session=True, expression=expression, awaitPromise=True, returnByValue=True
        )
        return result.get("result", {}).get("value")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"document.body && document.body.innerText.includes({json.dumps(text)})"):
            if time.monotonic() > deadline:
                raise SystemExit(f"{text!r} did not appear within {timeout:.0f} s")
            time.sleep(0.5)

    def click(self, text: str) -> None:
        if text.startswith("key:"):
            for kind in ("keyDown", "keyUp"):
                self.call("Input.dispatchKeyEvent", session=True, type=kind, key=text[4:], code=text[4:])
            time.sleep(1)
            return
        find = (
            f"document.querySelector({json.dumps(text[4:])})"
            if text.startswith("css:")
            else f"({FIND})({json.dumps(text)})"
        )
        found = self.evaluate(
            f"(() => {{ const el = {find}; "
            "if (!el) return false; el.scrollIntoView({block: 'nearest'}); el.click(); return true; })()"
        )
        if not found:
            raise SystemExit(f"nothing to click labelled {text!r}")
        time.sleep(1.5)

    def screenshot(self, path: str) -> None:
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        print(f"wrote {path}")

    def close(self) -> None:
        self.proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--click", action="append", default=[], help="aria-label, data-testid or text to click")
    parser.add_argument("--wait-for", help="text that shows the page has rendered its data")
    parser.add_argument("--map", action="append", default=[], help="HOST=IP, resolved inside chromium")
    parser.add_argument("--size", default="1600x1000")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    rules = ", ".join(f"MAP {pair.replace('=', ' ')}" for pair in args.map) or None
    browser = Chromium(width, height, rules)
    try:
        browser.call("Page.navigate", session=True, url=args.url)
        if args.wait_for:
            browser.wait_for(args.wait_for)
        time.sleep(3)
        for text in args.click:
            browser.click(text)
        time.sleep(6)  # let toasts and animations finish
        browser.screenshot(args.out)
    finally:
        browser.close()


if __name__ == "__main__":
    main()
