"""pytest plugin (entry point ``pytest11: qmpserver``): simulated QEMUs as fixtures.

Fixtures
--------
``qmpserver_server``   (session) the server: in-process (a thread), or external
                       when ``QMPSERVER_EXTERNAL=http://HOST:PORT`` (or
                       ``--qmpserver-external``) names a running
                       ``qmpserver serve --http`` (a container, another host)
``qmpserver_http``     (session) the in-process server with its HTTP API started;
                       ``.url``
``qmpserver_factory``  (function) ``create(profile=None, **options)`` -> handle;
                       every instance it made is removed after the test
``qmp_instance``       (function) one instance; profile and options from
                       ``@pytest.mark.qmp_profile(NAME, **options)`` or indirect
                       parametrization (a name or an options dict)
``qmp_client``         (function, async) a connected, negotiated
                       ``qemu.qmp.QMPClient`` on ``qmp_instance`` (needs pytest-asyncio)
``qmp_sync``           (function) the same with ``qemu.qmp.legacy.QEMUMonitorProtocol``
``qmp_pair``           (function) ``(source, destination)`` on two profiles from
                       ``@pytest.mark.qmp_pair(SRC, DST, **options)``; the
                       destination starts with ``-incoming defer`` (``inmigrate``)
``simulated_hosts``    (function) ``start(*profiles, names=None)`` -> list of
                       :class:`qmpserver.testing.hosts.SimulatedHost` (containers of the
                       host image: real libvirt, ``.uri`` = ``qemu+tcp://...``); removed
                       with their network after the test. Image: ``--qmpserver-host-image``
                       or ``$QMPSERVER_HOST_IMAGE``; engine: ``$QMPSERVER_CONTAINER_ENGINE``

The handles (:class:`qmpserver.testing.server.InstanceHandle`) also stub replies per
command (``stub(command, args=, times=).respond(value)`` / ``.error(cls, desc)``,
``assert_all_stubs_used()``) and wait for calls and events (``wait_for_call``,
``wait_for_event``).

Options: ``--qmpserver-profile`` / ini ``qmpserver_profile`` (default profile of
``qmp_instance``; else ``$QMPSERVER_PROFILE``, else the embedded default),
``--qmpserver-profile-dir`` / ini ``qmpserver_profile_dirs``, ``--qmpserver-strict`` / ini
``qmpserver_strict`` (every instance the fixtures create is strict: a read-only command
neither modelled nor recorded answers a GenericError naming it instead of its type's
default; one instance: the option ``strict=True``, as in the HTTP API).

Isolation: each test gets fresh instances (removed at teardown, also on
failure); unix sockets sit in one short private directory per worker, TCP
listeners use port 0, so pytest-xdist workers never collide.  See
``docs/testing.md`` for a complete example.

This module is imported by every pytest run of an environment where
qmpserver is installed: it imports nothing heavy until a fixture is used.
"""

from __future__ import annotations

import os

import pytest

try:  # pragma: no cover - depends on the environment
    import pytest_asyncio
except ImportError:  # pragma: no cover
    pytest_asyncio = None  # type: ignore[assignment]


def pytest_addoption(parser):
    group = parser.getgroup("qmpserver", "qmpserver (simulated QEMU over QMP)")
    group.addoption(
        "--qmpserver-profile", default=None, help="profile of qmp_instance when no marker names one"
    )
    group.addoption(
        "--qmpserver-profile-dir", action="append", default=None, help="extra profile directory (repeatable)"
    )
    group.addoption(
        "--qmpserver-external",
        default=None,
        help="URL of a running 'qmpserver serve --http' to use instead of an in-process server "
        "(also $QMPSERVER_EXTERNAL)",
    )
    group.addoption(
        "--qmpserver-host-image",
        default=None,
        help="image of the simulated_hosts fixture (docker/build-image.sh --host; also $QMPSERVER_HOST_IMAGE)",
    )
    group.addoption(
        "--qmpserver-strict",
        action="store_true",
        default=False,
        help="instances answer a read-only command neither modelled nor recorded with a GenericError "
        "naming it, not its type's default (per instance: the option strict=True)",
    )
    parser.addini(
        "qmpserver_strict", "strict mode for every instance the fixtures create", type="bool", default=False
    )
    parser.addini("qmpserver_profile", "profile of qmp_instance when no marker names one", default="")
    parser.addini("qmpserver_profile_dirs", "extra profile directories", type="paths", default=[])


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "qmp_profile(name=None, **options): profile and options "
        "(machine, accel, cpu, paused, incoming, transport, ...) of qmp_instance",
    )
    config.addinivalue_line("markers", "qmp_pair(source, destination, **options): profiles of qmp_pair")


def _default_profile(config):
    return (
        config.getoption("qmpserver_profile")
        or config.getini("qmpserver_profile")
        or os.environ.get("QMPSERVER_PROFILE")
        or None
    )


@pytest.fixture(scope="session")
def qmpserver_server(request):
    """The server every qmpserver fixture of this worker uses."""
    from .server import ExternalServer, InProcessServer

    url = request.config.getoption("qmpserver_external")
    if url:
        os.environ["QMPSERVER_EXTERNAL"] = url
    ext = ExternalServer.from_env()
    if ext is not None:
        with ext:
            yield ext
        return
    dirs = list(request.config.getoption("qmpserver_profile_dir") or ())
    dirs += [str(p) for p in request.config.getini("qmpserver_profile_dirs")]
    with InProcessServer(profile_dirs=dirs) as srv:
        yield srv


@pytest.fixture
def simulated_hosts(request):
    """``start(*profiles, names=None)``: simulated hosts (containers with real libvirt) for
    this test; every container and their network are removed afterwards."""
    from .hosts import DEFAULT_HOST_IMAGE, SimulatedHosts

    image = (
        request.config.getoption("qmpserver_host_image")
        or os.environ.get("QMPSERVER_HOST_IMAGE")
        or DEFAULT_HOST_IMAGE
    )
    fleet = SimulatedHosts(image)
    try:
        yield fleet.start
    finally:
        fleet.close()


@pytest.fixture(scope="session")
def qmpserver_http(qmpserver_server):
    """The server with its HTTP API; ``qmpserver_http.url`` is the base URL."""
    if hasattr(qmpserver_server, "http"):
        qmpserver_server.http()
    return qmpserver_server


class Factory:
    """Creates instances for one test and removes them afterwards."""

    def __init__(self, server, default_profile=None, strict=False):
        self.server = server
        self.default_profile = default_profile
        self.strict = strict  # --qmpserver-strict: the default of the option strict
        self.created: list = []

    def __call__(self, profile=None, **options):
        if self.strict:
            options.setdefault("strict", True)
        h = self.server.create(profile if profile is not None else self.default_profile, **options)
        self.created.append(h)
        return h

    create = __call__

    def cleanup(self):
        errors = []
        for h in reversed(self.created):
            try:
                h.remove(force=True)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)
        self.created.clear()
        if errors:
            raise errors[0]


@pytest.fixture
def qmpserver_factory(qmpserver_server, request):
    cfg = request.config
    f = Factory(
        qmpserver_server,
        _default_profile(cfg),
        strict=cfg.getoption("qmpserver_strict") or cfg.getini("qmpserver_strict"),
    )
    yield f
    f.cleanup()


def _instance_spec(request):
    """(profile, options) from indirect parametrization or the qmp_profile marker."""
    param = getattr(request, "param", None)
    if param is not None:
        if isinstance(param, str):
            return param, {}
        if isinstance(param, dict):
            opts = dict(param)
            return opts.pop("profile", None), opts
        raise pytest.UsageError("qmp_instance parameter: expected a profile name or an options dict")
    m = request.node.get_closest_marker("qmp_profile")
    if m is not None:
        opts = dict(m.kwargs)
        profile = m.args[0] if m.args else opts.pop("profile", None)
        return profile, opts
    return None, {}


@pytest.fixture
def qmp_instance(qmpserver_factory, request):
    """A fresh simulated QEMU for this test."""
    profile, opts = _instance_spec(request)
    return qmpserver_factory(profile, **opts)


@pytest.fixture
def qmp_pair(qmpserver_factory, request):
    """(source, destination) on two profiles; the destination waits for an incoming migration."""
    param = getattr(request, "param", None)
    m = request.node.get_closest_marker("qmp_pair")
    opts = {}
    if param is not None:
        src_p, dst_p = param
    elif m is not None:
        if len(m.args) != 2:
            raise pytest.UsageError("qmp_pair marker: expected (source profile, destination profile)")
        src_p, dst_p = m.args
        opts = dict(m.kwargs)
    else:
        src_p = dst_p = None
    dst_opts = dict(opts)
    dst_opts.setdefault("incoming", "defer")
    src = qmpserver_factory(src_p, **opts)
    dst = qmpserver_factory(dst_p, **dst_opts)
    return src, dst


def _disconnect_failed(handle) -> None:
    """A client's disconnect at teardown raised: accept it when the test broke the connection
    on purpose (a ``close``/``oversize`` fault, ``quit``, ``remove()``); the error the client
    saw then is the test's business, and it ran its course.  Otherwise re-raise."""
    if not handle.broken_on_purpose():
        raise


@pytest.fixture
def qmp_sync(qmp_instance):
    """A negotiated ``qemu.qmp.legacy.QEMUMonitorProtocol`` connected to ``qmp_instance``."""
    from qemu.qmp.legacy import QEMUMonitorProtocol

    qmp = QEMUMonitorProtocol(qmp_instance.qmp_address)
    qmp.connect(negotiate=True)
    try:
        yield qmp
    finally:
        try:
            qmp.close()
        except Exception:
            _disconnect_failed(qmp_instance)


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def qmp_client(qmp_instance):
        """A negotiated ``qemu.qmp.QMPClient`` connected to ``qmp_instance`` (on the test's loop)."""
        from qemu.qmp import QMPClient

        client = QMPClient("qmpserver-test")
        await client.connect(qmp_instance.qmp_address)
        try:
            yield client
        finally:
            try:
                await client.disconnect()
            except Exception:
                _disconnect_failed(qmp_instance)
else:  # pragma: no cover

    @pytest.fixture
    def qmp_client():
        pytest.skip("the qmp_client fixture needs pytest-asyncio; use qmp_sync in sync tests")
