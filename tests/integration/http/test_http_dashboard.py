"""The dashboard in headless Chromium (Debian's ``chromium``), driven over the DevTools protocol.

The page must list the instances and show an instance's QMP traffic live
(over the WebSocket) and its guest ABI, and show the migration matrix of the
hosts with a plan per pair; the tests save screenshots
(``$QMPSERVER_ARTIFACTS``, default ``build/artifacts/``: ``dashboard.png``,
``dashboard-abi.png``, ``dashboard-migration.png``).
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
from http_testutil import Api

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


def test_dashboard_page_is_self_contained(dash):
    """No browser: the page loads nothing from elsewhere, and has both views."""
    status, headers, page = Api(dash.url)("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert not re.search(r"https?://|<link|<script[^>]+src|@import|url\(", page)
    for needle in ('id="view-instances"', 'id="view-migration"', 'id="matrix"', 'id="abi"', 'id="plan-body"'):
        assert needle in page
    # every API path the script uses is a route of the table (prefixes of templated ones)
    from qmpserver.http.routes import ROUTES

    known = {r.path.split("/{")[0] for r in ROUTES}
    for path in re.findall(r'"(/api/v1/[a-z/.]+)', page):
        assert path.rstrip("/") in known, path


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


SRC, DST = "graviton3-v1-6.1", "graviton4-v2-6.12"


def test_dashboard_migration_matrix_and_plan(dash):
    binary = chromium_binary()
    api = Api(dash.url, token="dashboard-token")

    def cell(src, dst):
        return "#matrix td.cell[data-source='%s'][data-destination='%s']" % (src, dst)

    async def check(br):
        await br.wait_for("document.querySelector('#status')?.textContent == 'live'")
        assert await br.evaluate("document.querySelector('#view-migration').hidden")
        await br.click("#tabs button[data-view=migration]")
        assert await br.evaluate("location.hash") == "#view=migration"
        assert await br.evaluate("document.querySelector('#view-instances').hidden")
        # the first answer is 202 (the server starts computing): a progress bar, then the grid
        await br.wait_for("document.querySelectorAll('#matrix td.cell').length > 0", timeout=180)
        assert await br.evaluate("mig.polls") >= 1
        assert await br.evaluate("document.querySelector('#mig-progress-box').hidden")
        code, _, m = await asyncio.get_running_loop().run_in_executor(
            None, api, "GET", "/api/v1/migration/matrix?config=passthrough"
        )
        assert code == 200
        names = [p["name"] for p in m["profiles"]]
        assert SRC in names and DST in names
        rows = await br.evaluate("[...document.querySelectorAll('#matrix th.row')].map(t => t.textContent)")
        cols = await br.evaluate("[...document.querySelectorAll('#matrix th.col')].map(t => t.textContent)")
        assert rows == cols == names
        grid = await br.evaluate(
            "[...document.querySelectorAll('#matrix tbody tr')].map(r => [...r.querySelectorAll('td')]"
            ".map(c => [c.className.replace(' selected', ''), c.dataset.source || null,"
            " c.dataset.destination || null, c.dataset.tip || null]))"
        )
        cells = {(c["source"], c["destination"]): c for c in m["cells"]}
        for i, src in enumerate(names):
            for j, dst in enumerate(names):
                cls, s, d, tip = grid[i][j]
                if i == j:  # the same host: not in the matrix, an empty cell
                    assert (cls, s, d, tip) == ("cell same", None, None, None)
                    continue
                c = cells[(src, dst)]
                assert (s, d) == (src, dst)
                assert cls == ("cell migratable" if c["migratable"] else "cell blocked")
                if not c["migratable"]:
                    assert tip == c["first-blocker"]
        assert (SRC, SRC) not in cells
        assert await br.evaluate("document.querySelector(%s)" % json.dumps(cell(SRC, SRC))) is None
        assert await br.evaluate("document.querySelector(%s).className" % json.dumps(cell(SRC, DST))) == (
            "cell blocked"
        )
        summary = await br.evaluate("document.querySelector('#mig-summary').textContent")
        ok = sum(c["migratable"] for c in m["cells"])
        assert summary == "passthrough: %d of %d ordered pairs of %d hosts migratable" % (
            ok,
            len(m["cells"]),
            len(names),
        )
        # hover: the first blocking check, in a tooltip
        await br.hover(cell(SRC, DST))
        await br.wait_for("!document.querySelector('#tip').hidden")
        assert await br.evaluate("document.querySelector('#tip .tip-pair').textContent") == "%s → %s" % (
            SRC,
            DST,
        )
        tip = await br.evaluate("document.querySelector('#tip .tip-text').textContent")
        assert tip.startswith("MIDR_EL1")
        # click: the plan, proved by migrating (a few seconds)
        await br.click(cell(SRC, DST))
        await br.wait_for("!!document.querySelector('#plan-blockers li')", timeout=60)
        assert await br.evaluate("document.querySelector('#plan-title').textContent") == "Plan: %s → %s" % (
            SRC,
            DST,
        )
        assert await br.evaluate("document.querySelector('#plan-verdict').textContent") == "✗ not migratable"
        blockers = await br.evaluate(
            "[...document.querySelectorAll('#plan-blockers li')].map(l => l.textContent)"
        )
        code, _, plan = await asyncio.get_running_loop().run_in_executor(
            None, api, "GET", "/api/v1/migration/plan?source=%s&destination=%s" % (SRC, DST)
        )
        assert blockers == plan["blockers"] and blockers[0].startswith("MIDR_EL1")
        assert await br.evaluate("document.querySelector('#plan-args')") is None
        notes = await br.evaluate("[...document.querySelectorAll('#plan-notes li')].map(l => l.textContent)")
        assert notes == plan["notes"]
        assert "selected" in await br.evaluate(
            "document.querySelector(%s).className" % json.dumps(cell(SRC, DST))
        )
        # the grid, the tooltip (the mouse is still on the cell) and the plan
        assert not await br.evaluate("document.querySelector('#tip').hidden")
        png = await br.screenshot(os.path.join(artifacts_dir(), "dashboard-migration.png"))
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
        # beyond the first five, on demand
        visible = "[...document.querySelectorAll('#plan-blockers li')].filter(l => l.offsetParent).length"
        assert len(blockers) > 5 and await br.evaluate(visible) == 5
        await br.click("#plan-more")
        assert await br.evaluate(visible) == len(blockers)
        # a migratable pair: its command line, to copy
        good = next((c for c in m["cells"] if c["migratable"]), None)
        if good is not None:
            await br.click(cell(good["source"], good["destination"]))
            await br.wait_for("!!document.querySelector('#plan-args')", timeout=60)
            code, _, plan = await asyncio.get_running_loop().run_in_executor(
                None,
                api,
                "GET",
                "/api/v1/migration/plan?source=%s&destination=%s" % (good["source"], good["destination"]),
            )
            assert plan["migratable"]
            args = await br.evaluate("document.querySelector('#plan-args').textContent")
            assert args == " ".join(plan["configuration"]["qemu-args"])
            assert await br.evaluate("document.querySelector('#plan-verdict').textContent") == "✓ migratable"
            assert await br.evaluate("document.querySelector('#plan-copy').textContent") == "copy"
        # the selector: the planned matrix (computed anew, a plan per pair)
        await br.evaluate(
            "(() => { const s = document.querySelector('#mig-config'); s.value = 'planned';"
            " s.dispatchEvent(new Event('change')); })()"
        )
        await br.wait_for(
            "document.querySelector('#mig-summary').textContent.startsWith('planned:')"
            " && document.querySelectorAll('#matrix td.cell').length > 0",
            timeout=240,
        )
        code, _, planned = await asyncio.get_running_loop().run_in_executor(
            None, api, "GET", "/api/v1/migration/matrix?config=planned"
        )
        assert code == 200
        classes = await br.evaluate(
            "[...document.querySelectorAll('#matrix td.migratable, #matrix td.blocked')]"
            ".map(c => [c.dataset.source, c.dataset.destination, c.classList.contains('migratable')])"
        )
        assert sorted(map(tuple, classes)) == sorted(
            (c["source"], c["destination"], c["migratable"]) for c in planned["cells"]
        )
        # the view is in the address: a reload opens it again (passthrough, cached by the server now)
        assert await br.evaluate("location.hash") == "#view=migration"
        await br.evaluate("window.beforeReload = true")
        await br.send("Page.reload")
        await br.wait_for(
            "!window.beforeReload && document.querySelector('#view-instances')?.hidden"
            " && document.querySelectorAll('#matrix td.cell').length > 0"
        )
        assert await br.evaluate("[mig.polls, document.querySelector('#mig-config').value]") == [
            0,
            "passthrough",
        ]
        # the target selector: the ppc64 hosts' matrix, then x86_64's with its note
        for target in ("ppc64", "x86_64"):
            await br.evaluate(
                "(() => { const s = document.querySelector('#mig-target'); s.value = %s;"
                " s.dispatchEvent(new Event('change')); })()" % json.dumps(target)
            )
            code, _, tm = await asyncio.get_running_loop().run_in_executor(
                None, api, "GET", "/api/v1/migration/matrix?target=" + target
            )
            while code == 202:
                await asyncio.sleep(0.3)
                code, _, tm = await asyncio.get_running_loop().run_in_executor(
                    None, api, "GET", "/api/v1/migration/matrix?target=" + target
                )
            n = len(tm["profiles"])
            await br.wait_for(
                "document.querySelectorAll('#matrix td.cell').length == %d"
                " && document.querySelector('#matrix th.row')?.textContent == %s"
                % (n * n, json.dumps(tm["profiles"][0]["name"])),
                timeout=120,
            )
            classes = await br.evaluate(
                "[...document.querySelectorAll('#matrix td.migratable, #matrix td.blocked')]"
                ".map(c => [c.dataset.source, c.dataset.destination, c.classList.contains('migratable')])"
            )
            assert sorted(map(tuple, classes)) == sorted(
                (c["source"], c["destination"], c["migratable"]) for c in tm["cells"]
            )
            notes = await br.evaluate("document.querySelector('#mig-notes').textContent")
            assert notes == " ".join(tm.get("notes", []))
            assert bool(notes) == (target == "x86_64")

    run_page(binary, dash.url + "/#token=dashboard-token", check)


def test_dashboard_creates_stops_and_emits(dash):
    """Issue 14: the dashboard starts and stops instances and injects events (saying how many
    clients received one); the traffic pane keeps its heading while the traffic scrolls."""
    binary = chromium_binary()
    api = Api(dash.url, token="dashboard-token")
    before = {i["id"] for i in api("GET", "/api/v1/instances")[2]["instances"]}

    async def check(br):
        await br.wait_for("document.querySelectorAll('#new-profile option').length > 0")
        await br.evaluate("document.querySelector('#new-profile').value = %s" % json.dumps(PROFILE))
        await br.evaluate("document.querySelector('#new-start').click()")
        await br.wait_for("document.querySelector('#act').textContent.startsWith('started instance #')")
        created = {i["id"] for i in api("GET", "/api/v1/instances")[2]["instances"]} - before
        assert len(created) == 1
        (iid,) = created
        await br.wait_for(
            "document.querySelector('#traffic-title').textContent == 'Traffic of instance #%d'" % iid
        )
        await br.evaluate("document.querySelector('#ev-name').value = 'RESUME'")
        await br.evaluate("document.querySelector('#emit').click()")
        await br.wait_for(
            "document.querySelector('#act').textContent.startsWith('RESUME delivered to 0 clients')"
        )
        await br.wait_for(
            "[...document.querySelectorAll('#traffic .msg.event')]"
            ".some(e => e.textContent.includes('RESUME') && e.textContent.includes('#0'))"
        )
        await br.evaluate("document.querySelector('#ev-name').value = 'NO_SUCH_EVENT'")
        await br.evaluate("document.querySelector('#emit').click()")
        await br.wait_for("document.querySelector('#act').textContent.startsWith('HTTP 422')")
        # many events: the pane scrolls, its heading stays at the top of the pane
        for _ in range(60):
            api("POST", "/api/v1/instances/%d/events" % iid, {"event": "STOP"})
        await br.wait_for("document.querySelectorAll('#traffic .msg.event').length > 50")
        await br.evaluate(
            "(() => { const s = document.querySelector('#traffic').parentElement; s.scrollTop = s.scrollHeight; })()"
        )
        top = await br.evaluate(
            "(() => { const s = document.querySelector('#traffic').parentElement;"
            " return [s.scrollTop, document.querySelector('#traffic-title').getBoundingClientRect().top"
            " - s.getBoundingClientRect().top]; })()"
        )
        assert top[0] > 100 and 0 <= top[1] < 40, top
        await br.evaluate("document.querySelector('#stop').click()")
        await br.wait_for(
            "document.querySelector('#act').textContent.startsWith('stopped instance #%d')" % iid
        )
        assert iid not in {i["id"] for i in api("GET", "/api/v1/instances")[2]["instances"]}

    run_page(binary, dash.url + "/#token=dashboard-token", check)
