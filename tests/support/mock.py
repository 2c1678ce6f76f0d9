"""qmpserver in-process for tests: the pytest plugin's server, plus raw instance creation.

Tests here drive the core directly (``InstanceConfig`` in, ``(instance, socket path)``
out) on the same in-process server the ``qmpserver.testing`` plugin uses.
"""

from __future__ import annotations

import os

from qmpserver.testing.server import InProcessServer
from qmpserver.vm.config import InstanceConfig


class MockServer(InProcessServer):
    def __init__(self, multi_client=False):
        super().__init__(multi_client=multi_client)
        self._seq = 0

    def instance(self, profile="debian-7.2-tcg", config=None, start_paused=True, **cfg):
        """Create an instance; returns (instance, socket path)."""
        self._seq += 1
        path = os.path.join(self.socket_dir, "m%d.sock" % self._seq)
        if config is None:
            config = InstanceConfig(start_paused=start_paused, **cfg)
        inst = self.call(self.server.create_instance(profile, config, ["unix:" + path]))
        return inst, path
