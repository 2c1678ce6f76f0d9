"""The dashboard in headless Chromium (Debian's ``chromium``), driven over the DevTools protocol.

The page must list the instances and show an instance's QMP traffic live
(over the WebSocket) and its guest ABI; the tests save screenshots
(``$QMPSERVER_ARTIFACTS``, default ``build/artifacts/``: ``dashboard.png``,
``dashboard-abi.png``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from qmpserver.testing.server import InProcessServer

PROFILE = "debian-7.2-tcg"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--remote-debugging-port=0",
    "--window-size=1400,800",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("QMPSERVER_REQUIRE_REAL_PEERS") == "1":
        pytest.fail("chromium is required (QMPSERVER_REQUIRE_REAL_PEERS=1): apt-get install chromium")
    pytest.skip("chromium is not installed (apt-get install chromium)")


class Browser:
    """Just enough of the Chrome DevTools protocol: one page, evaluate, navigate, screenshot."""

    def __init__(self, binary):
        self.binary = binary
        self.profile = tempfile.mkdtemp(prefix="qmchrome")
        self.proc = None
        self.ws = None
        self.session = None
        self.ids = 0
        self.pending = {}
        self.console = []

    async def start(self, timeout=60):
        import aiohttp

        self.proc = subprocess.Popen(
            [self.binary, *CHROMIUM_FLAGS, "--user-data-dir=" + self.profile, "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        url = None
        while url is None:
            line = await asyncio.wait_for(
                loop.run_in_executor(None, self.proc.stderr.readline), max(1, deadline - time.monotonic())
            )
            if not line:
                raise RuntimeError("chromium exited (%s)" % self.proc.poll())
            m = re.search(rb"DevTools listening on (ws://\S+)", line)
            if m:
                url = m.group(1).decode()
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(url, max_msg_size=0)
        self.reader = asyncio.ensure_future(self._read())
        targets = await self.send("Target.getTargets")
        page = next(t for t in targets["targetInfos"] if t["type"] == "page")
        attached = await self.send("Target.attachToTarget", targetId=page["targetId"], flatten=True)
        self.session = attached["sessionId"]
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride", width=1400, height=800, deviceScaleFactor=1, mobile=False
        )

    async def _read(self):
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif data.get("method") == "Runtime.consoleAPICalled":
                self.console.append(data["params"])
            elif data.get("method") == "Runtime.exceptionThrown":
                self.console.append(data["params"])

    async def send(self, method, **params):
        self.ids += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.ids] = fut
        msg = {"id": self.ids, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        await self.ws.send_str(json.dumps(msg))
        data = await asyncio.wait_for(fut, 30)
        if "error" in data:
            raise RuntimeError("%s: %s" % (method, data["error"]))
        return data.get("result", {})

    async def evaluate(self, expr):
        r = await self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    async def wait_for(self, expr, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            v = await self.evaluate(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s (console: %s)" % (expr, self.console[-5:]))
            await asyncio.sleep(0.1)

    async def center(self, selector):
        """The middle of the element (scrolled into view), in CSS pixels of the viewport."""
        x, y = await self.evaluate(
            "(() => { const e = document.querySelector(%s); e.scrollIntoView({block: 'nearest'});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
            % json.dumps(selector)
        )
        return x, y

    async def hover(self, selector):
        """A real mouse move onto the element (mouseover, :hover)."""
        x, y = await self.center(selector)
        await self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        return x, y

    async def click(self, selector):
        """A real left click in the middle of the element."""
        x, y = await self.hover(selector)
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def errors(self):
        return [c for c in self.console if "exceptionDetails" in c or c.get("type") == "error"]

    async def screenshot(self, path):
        r = await self.send("Page.captureScreenshot", format="png")
        data = base64.b64decode(r["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    async def close(self):
        try:
            if self.ws is not None:
                await self.ws.close()
                self.reader.cancel()
                await self.http.close()
        finally:
            if self.proc is not None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


def artifacts_dir():
    d = os.environ.get("QMPSERVER_ARTIFACTS") or os.path.join(ROOT, "build", "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def dash():
    with InProcessServer() as srv:
        srv.http(token="dashboard-token")
        yield srv


def qmp_line(f, obj):
    f.write(json.dumps(obj).encode() + b"\n")
    f.flush()
    while True:
        m = json.loads(f.readline())
        if "event" not in m:
            return m


def test_dashboard_lists_instances_and_shows_live_traffic(dash):
    binary = chromium_binary()
    a = dash.create(PROFILE, name="source", paused=True)
    b = dash.create(PROFILE, name="destination", incoming="defer")
    s = socket.socket(socket.AF_UNIX)
    s.connect(a.qmp_address)
    s.settimeout(10)
    f = s.makefile("rwb")
    f.readline()
    qmp_line(f, {"execute": "qmp_capabilities"})
    qmp_line(f, {"execute": "query-status", "id": "before-page"})

    async def main():
        br = Browser(binary)
        try:
            await br.start()
            # the token comes in the fragment (never sent to the server) and is kept in sessionStorage
            await br.send("Page.navigate", url=dash.url + "/#token=dashboard-token")
            await br.wait_for("document.querySelectorAll('#instances tbody tr').length == 2")
            rows = await br.evaluate(
                "[...document.querySelectorAll('#instances tbody tr')]"
                ".map(r => [...r.children].map(c => c.textContent))"
            )
            assert [r[0] for r in rows] == [str(a.id), str(b.id)]
            assert rows[0][1:3] == ["source", PROFILE] and rows[1][1] == "destination"
            assert rows[0][6] == "prelaunch" and rows[1][6] == "inmigrate"
            assert rows[0][8] == a.address
            assert await br.evaluate("location.hash") == ""
            # the first instance is selected: its backlog arrives over the WebSocket
            await br.wait_for(
                "[...document.querySelectorAll('#traffic .msg .text')]"
                ".some(e => e.textContent.includes('before-page'))"
            )
            # live: a command sent now shows up without reloading
            await asyncio.get_running_loop().run_in_executor(
                None, qmp_line, f, {"execute": "query-name", "id": "while-watching"}
            )
            await br.wait_for(
                "[...document.querySelectorAll('#traffic .msg.reply .text')]"
                ".some(e => e.textContent.includes('while-watching'))"
            )
            # an injected event and a new instance appear too
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: a.emit_event("GUEST_PANICKED", {"action": "pause"})
            )
            await br.wait_for(
                "[...document.querySelectorAll('#traffic .msg.event .text')]"
                ".some(e => e.textContent.includes('GUEST_PANICKED'))"
            )
            c = await asyncio.get_running_loop().run_in_executor(
                None, lambda: dash.create(PROFILE, name="third")
            )
            await br.wait_for("document.querySelectorAll('#instances tbody tr').length == 3")
            assert await br.evaluate("document.querySelector('#status').textContent") == "live"
            path = os.path.join(artifacts_dir(), "dashboard.png")
            png = await br.screenshot(path)
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
            await asyncio.get_running_loop().run_in_executor(None, c.remove)
            await br.wait_for("document.querySelectorAll('#instances tbody tr').length == 2")
            errors = [c for c in br.console if "exceptionDetails" in c or c.get("type") == "error"]
            assert not errors, errors
        finally:
            await br.close()

    try:
        asyncio.run(main())
    finally:
        s.close()
        a.remove()
        b.remove()


def run_page(binary, url, check):
    """Open ``url`` in a fresh browser, run ``await check(browser)``; no script error allowed."""

    async def main():
        br = Browser(binary)
        try:
            await br.start()
            await br.send("Page.navigate", url=url)
            await check(br)
            assert not br.errors(), br.errors()
        finally:
            await br.close()

    asyncio.run(main())


def test_dashboard_shows_the_guest_abi(dash):
    binary = chromium_binary()
    k = dash.create("graviton4-v2-6.12", name="kvm-guest", paused=True)
    t = dash.create(PROFILE, name="tcg-guest", paused=True)
    abi = dash.call(lambda: dash.control.record(k.id).instance.abi.to_dict())
    idregs = abi["cpu"]["idregs"]

    async def check(br):
        row = "#instances tbody tr[data-id='%d']"
        await br.wait_for("!!document.querySelector(%s)" % json.dumps(row % k.id))
        await br.click(row % k.id)
        await br.wait_for(
            "document.querySelector('#abi-title').textContent == 'Guest ABI of instance #%d'"
            " && !!document.querySelector('#abi-firmware')" % k.id
        )
        summary = await br.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#abi-summary tr')]"
            ".map(r => [r.dataset.key, r.children[1].textContent]))"
        )
        assert summary == {
            "machine": abi["machine"]["type"],
            "accelerator": "kvm",
            "CPU model": "host",
            "MIDR_EL1": hex(abi["cpu"]["midr"]),
            "MTE": "none",
            "GIC": "v3, in-kernel",
            "SVE vector lengths": "128 bits",
            "PMU": "yes",
            "PSCI": "1.1",
        }
        assert summary["MIDR_EL1"] == "0x410fd4f1"  # Neoverse V2 r0p1
        fields = await br.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#abi-idregs [data-field]')]"
            ".map(s => [s.dataset.field, [s.textContent, s.className]]))"
        )
        assert fields["ID_AA64PFR1_EL1.MTE"] == ["MTE=0", "f zero"]
        assert fields["MIDR_EL1.PartNum"] == ["PartNum=0xd4f", "f"]
        # registers whose fields are all 0 share one row; together, every field is shown once
        zero_regs = await br.evaluate(
            "document.querySelector('#abi-idregs tr[data-reg=\"\"] td').textContent.split(' ')"
        )
        assert "ID_PFR0_EL1" in zero_regs and "ID_AA64PFR1_EL1" not in zero_regs
        shown = set(fields) | {k for k in idregs if k.split(".")[0] in zero_regs}
        assert shown == set(idregs)
        firmware = await br.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#abi-firmware tr')]"
            ".map(r => [r.dataset.reg, r.children[1].textContent]))"
        )
        assert firmware["KVM_REG_ARM_PSCI_VERSION"] == "0x10001 (65537)"
        assert set(firmware) == set(abi["firmware"])
        await br.screenshot(os.path.join(artifacts_dir(), "dashboard-abi.png"))
        # the filter narrows the fields to the matching ones
        await br.evaluate(
            "(() => { const i = document.querySelector('#abi-filter'); i.value = 'mte';"
            " i.dispatchEvent(new Event('input')); })()"
        )
        shown = await br.evaluate(
            "[...document.querySelectorAll('#abi-idregs [data-field]')].map(s => s.dataset.field)"
        )
        assert shown == [f for f in idregs if "mte" in f.lower()] and shown
        # a TCG instance: what the models do not know is said so, not invented
        await br.click(row % t.id)
        await br.wait_for(
            "document.querySelector('#abi-summary tr[data-key=accelerator] td')?.textContent == 'tcg'"
        )
        text = await br.evaluate("document.querySelector('#abi').textContent")
        assert "not known to the models" in text
        assert await br.evaluate("document.querySelector('#abi-idregs') === null")
        assert await br.evaluate("document.querySelector('#abi-firmware') === null")
        assert (
            await br.evaluate("document.querySelector('#abi-summary tr[data-key=PSCI] td').className")
            == "dim"
        )

    try:
        run_page(binary, dash.url + "/#token=dashboard-token", check)
    finally:
        k.remove()
        t.remove()
