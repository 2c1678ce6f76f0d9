"""One QMP connection, sans-IO, in the shape of h11.

The session owns the JSON stream, the negotiation state, the in-band request
queue and an outbox of encoded messages; it never touches a socket, a timer
or an event loop.  A driver feeds it bytes, asks it to work, writes out what
it produced and honours what it says it wants next::

    s = Session(monitor, wakeup=conn.wake)
    transport.write(s.connect())      # the greeting; negotiation mode
    s.receive_data(data)
    want = s.pump()                   # parse, dispatch, queue replies/events
    transport.write(s.take_output())
    # want == READ: keep reading; else bits of PAUSED, CLOSE, WAIT (below)

The driver contract (:mod:`qmpserver.net.endpoint` implements it once for both
drivers, asyncio and epoll):

* **input**: ``receive_data(bytes)`` then ``pump()``; bytes may be split
  anywhere.  ``pump()`` returns what the session wants next, a combination of
  :data:`READ` (0), :data:`PAUSED`, :data:`CLOSE` and :data:`WAIT`.
* **output**: ``take_output()`` after every ``pump()`` and after a wake-up;
  the driver's own write pressure (a client that does not read) is the
  driver's business: it stops reading until its buffer drains.
* **output backed up** (:data:`FLUSH`): the outbox holds more than
  :data:`OUTPUT_HIGH_WATER` bytes, so ``pump()`` stopped taking requests
  (a client that pipelines thousands of big queries and never reads must not
  have them all answered into memory).  Do not read; write the output, and
  ``pump()`` again once the transport is below its own high-water mark.
* **paused input** (:data:`PAUSED`): QEMU's monitor is suspended; do not read
  until a later ``pump()`` stops saying so.  Bytes already received are kept.
* **hold** (:data:`WAIT`, returned once per hold): in-band execution waits;
  call ``resume()`` after ``wait_seconds`` and ``pump()`` again.  OOB
  requests still run meanwhile.
* **close** (:data:`CLOSE`): the emulated QEMU closes the connection: write the
  output, then close.  ``disconnect()`` when the connection is gone.
* **wake-up**: output or work can appear outside ``pump()`` (an event of the
  instance, the process exiting); the session then calls the ``wakeup``
  callable it was built with, and the driver soon pumps and writes.
* **descriptors** (unix sockets): a driver that read SCM_RIGHTS descriptors
  calls ``receive_fds(fds)`` *before* ``receive_data`` of the bytes that came
  with them; from then on the session owns them (see :meth:`Session.receive_fds`).

Hooks of the layers above (the HTTP control plane's transcript, fault
injection) are installed through methods, never by assignment:
``observe(fn)`` sees every request and every encoded message, ``gate_inband(fn)``
may hold an in-band request for some seconds before it runs, ``close()`` ends
the connection after the pending output, ``replace_table()`` swaps the command
table under a live connection.

QEMU's rules reproduced here (QEMU ``monitor/qmp.c``: ``handle_qmp_command``,
``monitor_qmp_dispatcher_co``, ``monitor_qmp_can_read``;
``qapi/qmp-dispatch.c``):

* before ``qmp_capabilities`` only that command exists, and every
  CommandNotFound desc is rewritten to ``Expecting capabilities negotiation
  with 'qmp_capabilities'``;
* requests with ``exec-oob`` (and no ``execute``) are dispatched as soon as
  they are parsed; everything else, JSON errors included, is queued in-band
  and answered strictly in order;
* without OOB the monitor stops reading once one request is queued; with OOB
  it stops when 8 (``QMP_REQ_QUEUE_LEN_MAX``) are queued;
* events reach only negotiated sessions.
"""

from __future__ import annotations

import os
import sys
from collections import deque

from ..errors import COMMAND_NOT_FOUND
from ..wire.encode import message
from ..wire.json_stream import MAX_NESTING, JsonError, JsonStream
from .dispatch import CommandTable, NegotiationTable, dispatch

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: the launcher's start-up path avoids it
    from typing import Any, Callable, Protocol, Union

    from .dispatch import Table

    class MonitorLike(Protocol):
        """What a session needs of its monitor (``qmpserver.vm.instance.Monitor``)."""

        pretty: bool
        oob: bool

        def greeting(self) -> dict[str, Any]: ...
        def command_table(self) -> Table: ...
        def attach(self, session: Session) -> None: ...
        def detach(self, session: Session) -> None: ...

    #: observe(direction, obj, data): "in" with the request (data None) or "out" with the
    #: message and its encoded bytes
    Observer = Callable[[str, Any, Union[bytes, None]], None]
    #: gate(session, item) -> seconds to hold the in-band item (a request or a JsonError)
    Gate = Callable[["Session", Any], float]

# A request may be MAX_NESTING (1024) levels deep (QEMU json-streamer.c) and every
# level is one frame of whatever walks it recursively: the C json encoder echoing an
# "id", QAPI argument visitors, observers.  Python's default limit (1000) is below
# that; the parser itself is iterative (wire.json_stream).
RECURSION_LIMIT = 3 * MAX_NESTING + 1000
if sys.getrecursionlimit() < RECURSION_LIMIT:
    sys.setrecursionlimit(RECURSION_LIMIT)

QUEUE_LEN_MAX = 8  # QMP_REQ_QUEUE_LEN_MAX, monitor/monitor-internal.h
NEGOTIATION_DESC = "Expecting capabilities negotiation with 'qmp_capabilities'"

# Output the session answers into before it stops taking requests (FLUSH): a driver
# buffers at most about as much again, so a client that never reads costs ~2 MiB.
# QEMU stops reading a monitor whose output is backed up; the mark is the mock's.
OUTPUT_HIGH_WATER = 1 << 20

# What the session wants next (``pump()``'s answer; bits, READ is none of them).
READ = 0  # keep reading
PAUSED = 1  # QEMU would not read now (in-band queue full): stop reading until told
CLOSE = 2  # write the pending output, then close the connection
WAIT = 4  # a hold started: call resume() after wait_seconds, then pump()
FLUSH = 8  # output above OUTPUT_HIGH_WATER: write it, pump() again when the transport has room


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


class Session:
    """One connection's protocol state; see the module docstring for the driver contract."""

    __slots__ = (
        "monitor",
        "stream",
        "table",
        "negotiated",
        "oob_enabled",
        "queue",
        "outbox",
        "outbytes",
        "closing",
        "connected",
        "pretty",
        "wait_seconds",
        "_held",
        "_gated",
        "_gate",
        "_observers",
        "_wakeup",
        "fds",
        "__weakref__",
    )

    def __init__(self, monitor: MonitorLike, wakeup: Callable[[], None] | None = None) -> None:
        self.monitor = monitor
        self.stream = JsonStream()
        self.table: Table | None = None
        self.negotiated = False
        self.oob_enabled = False
        self.queue: deque[Any] = deque()  # in-band requests (dicts, other values, JsonError)
        self.outbox: list[bytes] = []
        self.outbytes = 0  # bytes in the outbox
        self.closing = False  # close once the outbox is written
        self.connected = False
        self.pretty: bool = monitor.pretty
        self.wait_seconds = 0.0  # the current hold, when pump() said WAIT
        self._held = False  # in-band execution waits for resume()
        self._gated = False  # the queue's head has been through the gate
        self._gate: Gate | None = None
        self._observers: list[Observer] = []
        self._wakeup = wakeup
        self.fds: list[int] = []  # SCM_RIGHTS descriptors received and not yet taken

    # --- connection ---------------------------------------------------------

    def connect(self) -> bytes:
        """Connection opened: reset to negotiation mode and return the greeting."""
        self.stream = JsonStream()
        self.queue.clear()
        self.negotiated = False
        self.oob_enabled = False
        self.table = NegotiationTable(self.monitor.command_table)  # built on the first request
        self.connected = True
        self.monitor.attach(self)
        self._emit_out(self.monitor.greeting())
        return self.take_output()

    def disconnect(self) -> None:
        """The connection is gone (closed by either side); descriptors nobody took are closed."""
        if self.fds:
            self._drop_fds()
        if self.connected:
            self.connected = False
            self.queue.clear()
            self.monitor.detach(self)

    def close(self) -> None:
        """Close after the pending output (the emulated QEMU exits or drops the client)."""
        self.closing = True
        if self._wakeup is not None:
            self._wakeup()

    # --- descriptors passed over SCM_RIGHTS --------------------------------------

    def receive_fds(self, fds: list[int]) -> None:
        """Descriptors that arrived with the bytes the driver reads next; the session owns them.

        QEMU ``chardev/char-socket.c`` (``tcp_chr_recv``): a read that brings
        descriptors replaces the ones no command took yet, closing those; each
        received descriptor is put back in blocking mode (O_NONBLOCK travels
        with the open file, ``qemu_socket_set_block``).  QEMU's monitor reads
        one byte at a time, so the descriptors are there for the request whose
        bytes came with them and for every later one until a command takes them.
        A driver reads more at once; it hands the descriptors over before the
        bytes of the same read, so they are there for the first request that
        completes in that read (the kernel ends a read with the message that
        carried descriptors, so only requests the client pipelined *before*
        that message, in the same read, could see them earlier than in QEMU).
        """
        if self.fds:
            self._drop_fds()
        for fd in fds:
            try:
                os.set_blocking(fd, True)
            except OSError:
                pass
        self.fds = fds

    def take_fd(self) -> int | None:
        """The first received descriptor, now the caller's; the others are closed.

        QEMU ``qemu_chr_fe_get_msgfd`` (``tcp_get_msgfds`` with one slot): -1
        (here None) when none is pending.
        """
        fds = self.fds
        if not fds:
            return None
        self.fds = []
        for extra in fds[1:]:
            _close(extra)
        return fds[0]

    def _drop_fds(self) -> None:
        fds, self.fds = self.fds, []
        for fd in fds:
            _close(fd)

    # --- hooks of the layers above -----------------------------------------

    def observe(self, fn: Observer) -> None:
        """Call ``fn(direction, obj, data)`` for every request run and every message queued."""
        self._observers.append(fn)

    def gate_inband(self, fn: Gate | None) -> None:
        """Ask ``fn(session, item)`` before each in-band item runs; seconds > 0 hold it."""
        self._gate = fn

    def replace_table(self, old: Table, new: Table) -> None:
        """The monitor's command table ``old`` became ``new`` (fault injection wraps it)."""
        table = self.table
        if table is old:
            self.table = new
        elif type(table) is NegotiationTable and table.built and table.full is old:
            table.full = new

    # --- input and execution --------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes from the client, split anywhere; ``pump()`` handles them."""
        self.stream.feed(data)

    def _queue_limit(self) -> int:
        return QUEUE_LEN_MAX if self.oob_enabled else 1

    def _parse(self) -> None:
        """Read as QEMU's monitor does: OOB runs at once, the rest queues until the limit."""
        stream = self.stream
        queue = self.queue
        while not self.closing and len(queue) < self._queue_limit() and self.outbytes < OUTPUT_HIGH_WATER:
            msg = stream.next_message()
            if msg is None:
                return
            if isinstance(msg, JsonError):
                queue.append(msg)
                continue
            value = msg.value
            if type(value) is dict and "exec-oob" in value and "execute" not in value:
                self._run(value)  # out-of-band: executed as soon as parsed
            else:
                queue.append(value)

    def pump(self) -> int:
        """Parse what can be parsed, run the in-band work that may run; return what is wanted.

        One answer path: each in-band item is taken either straight from the
        stream (fast path: nothing queued, held or gated, so the item would be
        queued and taken back at once) or from the head of the queue, then
        answered by :meth:`_run`.  With OOB negotiated the fast path answers
        an in-band request before parsing the OOB ones that follow it in the
        same read; the slow path (a gate installed) parses first, so those OOB
        replies overtake it.  Without OOB both paths give the same bytes
        (``tests/unit/qmp/test_session_properties.py``).
        """
        stream = self.stream
        queue = self.queue
        want = READ
        while True:
            if self.outbytes >= OUTPUT_HIGH_WATER:
                want |= FLUSH  # the rest waits, unparsed, until the output is written
                break
            if not queue and not self._held and not self.closing and self._gate is None:
                table = self.table
                memo = (
                    table.memo
                    if type(table) is CommandTable and not self._observers and not self.pretty
                    else None
                )
                mark = stream.mark() if memo is not None else None
                if mark is not None and memo:
                    raw = stream.unread()
                    data = memo.answer(raw)
                    if data is not None:  # a repeated request of a pure command
                        stream.discard(len(raw))
                        self.outbox.append(data)
                        self.outbytes += len(data)
                        continue
                msg = stream.next_message()
                if msg is None:
                    break
                item: Any = msg if isinstance(msg, JsonError) else msg.value
                if type(item) is dict and "exec-oob" in item and "execute" not in item:
                    self._run(item)  # out-of-band: executed as soon as parsed
                    continue
                if mark is not None and type(item) is dict:
                    ex = item.get("execute")
                    entry = table.lookup(ex) if type(ex) is str else None  # type: ignore[union-attr]
                    if entry is not None and entry.pure:
                        self._run(item, stream.whole_since(mark))
                        continue
            else:
                self._parse()
                if not queue or self._held or self.closing:
                    break
                item = queue[0]
                gate = self._gate
                if gate is not None and not self._gated:
                    seconds = gate(self, item)
                    if seconds:
                        self._gated = True
                        self._held = True
                        self.wait_seconds = seconds
                        want = WAIT
                        break
                self._gated = False
                queue.popleft()
            self._run(item)
        if self.closing:
            return want | CLOSE
        if len(queue) >= (QUEUE_LEN_MAX if self.oob_enabled else 1):
            return want | PAUSED
        return want

    @property
    def want(self) -> int:
        """What the session wants now, without a hold request (READ, PAUSED, FLUSH or CLOSE)."""
        if self.closing:
            return CLOSE
        want = PAUSED if len(self.queue) >= self._queue_limit() else READ
        return want | FLUSH if self.outbytes >= OUTPUT_HIGH_WATER else want

    def resume(self) -> None:
        """End a hold: queued in-band requests run at the next ``pump()``."""
        self._held = False

    def _run(self, request: Any, raw: bytes | None = None) -> None:
        """Answer one item: a JSON error as such, a request through ``dispatch``.
        ``raw``: the request's whole text, for the command table's reply memo."""
        if type(request) is JsonError:
            self._emit_out({"error": {"class": "GenericError", "desc": request.desc}})
            return
        for obs in self._observers:
            obs("in", request, None)
        table = self.table
        assert table is not None, "connect() first"
        reply, after = dispatch(table, request, self, self.oob_enabled)
        if raw is not None and type(table) is CommandTable and table.memo is not None:
            ex = request.get("execute")
            table.memo.store(raw, table.lookup(ex) if type(ex) is str else None, request, reply, after)
        if reply is not None:
            if type(self.table) is NegotiationTable:
                err = reply.get("error")
                if err is not None and err.get("class") == COMMAND_NOT_FOUND:
                    del err["desc"]  # re-inserted: QDict order follows insertion
                    err["desc"] = NEGOTIATION_DESC
            self._emit_out(reply)
        for fn in after:
            fn()

    def negotiate(self, enable_oob: bool) -> None:
        """Called by ``qmp_capabilities``: switch to the full command table."""
        self.negotiated = True
        self.oob_enabled = enable_oob
        self.table = self.monitor.command_table()

    # --- output -----------------------------------------------------------------

    def _emit_out(self, obj: Any) -> None:
        data = message(obj, self.pretty)
        self.outbox.append(data)
        self.outbytes += len(data)
        for obs in self._observers:
            obs("out", obj, data)

    def send_event_bytes(self, data: bytes, obj: Any) -> None:
        """Deliver an already-encoded event (shared by all sessions); wakes the driver."""
        if not self.negotiated or not self.connected:
            return
        if self.pretty:
            data = message(obj, True)
        self.outbox.append(data)
        self.outbytes += len(data)
        for obs in self._observers:
            obs("out", obj, data)
        if self._wakeup is not None:
            self._wakeup()

    def take_output(self) -> bytes:
        """The bytes to send, in order; empties the outbox."""
        outbox = self.outbox
        if not outbox:
            return b""
        data = b"".join(outbox) if len(outbox) > 1 else outbox[0]
        outbox.clear()
        self.outbytes = 0
        return data
