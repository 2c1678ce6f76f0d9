"""qmpserver in-process (a thread running the asyncio serve loop) for tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading

from qmpserver.serve import Server
from qmpserver.vm.config import InstanceConfig

from .peers import short_tmpdir


class MockServer:
    """Run ``qmpserver serve`` in a thread; ``instance()`` adds instances."""

    def __init__(self, multi_client=False):
        self.loop = asyncio.new_event_loop()
        self.server = Server(self.loop, multi_client=multi_client)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.dir = short_tmpdir("qm")
        self._n = 0

    def __enter__(self):
        self.thread.start()
        return self

    def call(self, coro_or_fn, timeout=30):
        if asyncio.iscoroutine(coro_or_fn):
            return asyncio.run_coroutine_threadsafe(coro_or_fn, self.loop).result(timeout)

        async def run():
            return coro_or_fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def instance(self, profile="debian-7.2-tcg", config=None, start_paused=True, **cfg):
        """Create an instance; returns (instance, socket path)."""
        self._n += 1
        path = os.path.join(self.dir, "m%d.sock" % self._n)
        if config is None:
            config = InstanceConfig(start_paused=start_paused, **cfg)
        inst = self.call(self.server.create_instance(profile, config, ["unix:" + path]))
        return inst, path

    def __exit__(self, *exc):
        self.call(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        shutil.rmtree(self.dir, ignore_errors=True)
