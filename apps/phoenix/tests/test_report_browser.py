"""``report.html`` in a real browser: headless Chromium opens it from disk (``file://``) and, over
the DevTools protocol, reports no console errors, no request other than the file itself and data
URIs, and every ``<img>`` decoded (``naturalWidth > 0``).

Needs a Chromium binary (Debian: ``apt-get install chromium``; or ``$SLR_CHROMIUM``) and the
``websocket-client`` package; skipped with the reason when either is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from slr_metrics import score

from slr_phoenix.alignment_view import AlignmentView, ScoredColumn, render_alignment_view
from slr_phoenix.ctc_alignment import GlossSpan
from slr_phoenix.plots import curve_pngs
from slr_phoenix.run_report import build_report_html

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def chromium_binary() -> str | None:
    given = os.environ.get("SLR_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


class DevTools:
    """A minimal Chrome DevTools Protocol client over one browser websocket (flat sessions)."""

    def __init__(self, url: str, websocket) -> None:
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(method)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)


@pytest.fixture()
def browser(tmp_path: Path):
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no Chromium binary (apt-get install chromium, or set SLR_CHROMIUM)")
    websocket = pytest.importorskip("websocket", reason="websocket-client is not installed")
    profile = tmp_path / "profile"
    args = [binary, "--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run",
            "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={profile}",
            "about:blank"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and len(port_file.read_text().split()) >= 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{binary} did not start its DevTools server (exit {proc.poll()})")
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        client = DevTools(f"ws://127.0.0.1:{port}{path}", websocket)
        try:
            yield client
        finally:
            client.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _report(tmp_path: Path) -> Path:
    refs = {"01April_2010_Thursday_heute-1": ["REGEN", "NORD", "<KALT>"], "u2": ["SONNE", "WIND"]}
    hyps = {"01April_2010_Thursday_heute-1": ["REGEN", "SUED"], "u2": ["SONNE", "WIND", "WIND"]}
    report = score(refs, hyps, speakers={"01April_2010_Thursday_heute-1": "Signer01", "u2": "Signer02"})
    c = report.counts
    results = {"dev": {"wer": report.wer, "N": c.N, "C": c.C, "S": c.S, "D": c.D, "I": c.I, "utterances": 2}}
    rng = np.random.default_rng(0)
    columns = [ScoredColumn("C", "REGEN", "regen", 0), ScoredColumn("S", "NORD", "sued", 1),
               ScoredColumn("D", "<KALT>", None, None)]
    view = AlignmentView("01April_2010_Thursday_heute-1", rng.dirichlet(np.ones(5), size=40),
                         [GlossSpan(0, 1, "REGEN", 5, 8), GlossSpan(1, 2, "SUED", 20, 22)],
                         rng.integers(0, 255, size=(20, 40, 32, 3), dtype=np.uint8), columns=columns)
    history = [{"epoch": e, "lr": 1e-3 / e, "train_loss": 10.0 / e, "dev_wer_raw": 80.0 / e}
               for e in (1, 2, 3)]
    page = build_report_html(title="browser check", summary={"model": "slr_mamba_tiny"}, results=results,
                             reports={"dev": report}, curves=curve_pngs(history), worst_split="dev",
                             worst=[(report.utterances[0], render_alignment_view(view).png),
                                    (report.utterances[1], None)], config_yaml="name: tiny\n")
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def test_the_report_loads_without_errors_and_every_image_decodes(browser: DevTools, tmp_path: Path):
    path = _report(tmp_path)
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=session)
    browser.events.clear()
    browser.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
    browser.wait_for("Page.loadEventFired")
    state = browser.send("Runtime.evaluate", {
        "expression": "JSON.stringify({ready: document.readyState, title: document.title, images: "
                      "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])})",
        "returnByValue": True}, session=session)["result"]["value"]
    state = json.loads(state)
    browser.send("Runtime.evaluate", {"expression": "1"}, session=session)  # flush late events
    errors = [e for e in browser.events
              if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled"
                  and e["params"].get("type") in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error")
              or e.get("method") == "Network.loadingFailed"]
    assert errors == []
    requests = [e["params"]["request"]["url"] for e in browser.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert requests and all(url.startswith(("file:", "data:")) for url in requests), requests
    assert state["ready"] == "complete" and state["title"] == "browser check"
    assert len(state["images"]) == path.read_text().count("<img") == 4  # three curves, one view
    assert all(complete and width > 0 and height > 0 for complete, width, height in state["images"]), state
