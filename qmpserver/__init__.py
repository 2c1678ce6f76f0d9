"""qmpserver: a mock QEMU that speaks QMP, answering from simulated host profiles.

Importing this package must stay cheap: it is on the launcher's start-up path.
"""

__version__ = "0.1.0"
