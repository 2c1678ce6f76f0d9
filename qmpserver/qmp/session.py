"""One QMP connection, sans-IO.

The session owns the JSON stream, the negotiation state, the in-band request
queue and an outbox of encoded messages.  A driver (the asyncio server, a
test, a sync client) feeds it bytes and writes out what it produces::

    s = Session(monitor)
    out = s.connect()              # the greeting, negotiation mode reset
    s.receive_data(data)
    s.pump()                       # parse, dispatch, queue replies/events
    transport.write(s.take_output())
    if s.reading_suspended: pause reading

QEMU's rules reproduced here (``monitor/qmp.c``, facts §1.3, §1.10):

* before ``qmp_capabilities`` only that command exists, and every
  CommandNotFound desc is rewritten to ``Expecting capabilities negotiation
  with 'qmp_capabilities'``;
* requests with ``exec-oob`` (and no ``execute``) are dispatched as soon as
  they are parsed; everything else, JSON errors included, is queued in-band
  and answered strictly in order;
* without OOB the monitor stops reading once one request is queued; with OOB
  it stops when 8 are queued;
* events reach only negotiated sessions.
"""

from __future__ import annotations

from collections import deque

from ..errors import COMMAND_NOT_FOUND
from ..wire.encode import message
from ..wire.json_stream import JsonError, JsonStream
from .dispatch import NegotiationTable, dispatch

QUEUE_LEN_MAX = 8
NEGOTIATION_DESC = "Expecting capabilities negotiation with 'qmp_capabilities'"


class Session:
    def __init__(self, monitor, peer: str = ""):
        self.monitor = monitor
        self.peer = peer
        self.stream = JsonStream()
        self.table = None
        self.negotiated = False
        self.oob_enabled = False
        self.queue: deque = deque()
        self.outbox: list = []
        self.out_bytes = 0
        self.hold = None          # non-None: in-band execution waits (slow command, injected delay)
        self.on_resume = None     # driver callback: re-process after resume()
        self.before_inband = None  # hook(session, request) -> seconds to wait before running it
        self.on_delay = None      # driver callback(seconds): call resume() after that long
        self._delayed = False
        self.closing = False      # close the connection once the outbox is flushed
        self.connected = False
        self.pretty = getattr(monitor, "pretty", False)
        self.observers: list = []  # callbacks(direction, payload) for transcripts
        self.notify = None         # driver callback: output is waiting outside a pump()

    # --- connection ---------------------------------------------------------

    def connect(self) -> bytes:
        """Connection opened: reset to negotiation mode and greet."""
        self.stream = JsonStream()
        self.queue.clear()
        self.negotiated = False
        self.oob_enabled = False
        self.table = NegotiationTable(self.monitor.command_table())
        self.connected = True
        self.monitor.attach(self)
        greeting = self.monitor.greeting()
        self._emit_out(greeting)
        return self.take_output()

    def disconnect(self) -> None:
        if self.connected:
            self.connected = False
            self.queue.clear()
            self.monitor.detach(self)

    # --- input -----------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        self.stream.feed(data)

    @property
    def reading_suspended(self) -> bool:
        """True while QEMU would not read from this connection."""
        if self.closing:
            return True
        if not self.oob_enabled:
            return len(self.queue) > 0
        return len(self.queue) >= QUEUE_LEN_MAX

    @property
    def wants_input(self) -> bool:
        return not self.reading_suspended and self.stream.buffered == 0

    def _parse(self) -> None:
        stream = self.stream
        queue = self.queue
        while not self.reading_suspended:
            msg = stream.next_message()
            if msg is None:
                return
            if type(msg) is JsonError:
                queue.append(msg)
                continue
            value = msg.value
            if type(value) is dict and "exec-oob" in value and "execute" not in value:
                self._run(value)   # out-of-band: executed as soon as parsed
            else:
                queue.append(value)

    def pump(self) -> None:
        """Parse what can be parsed and run queued in-band work."""
        stream = self.stream
        while True:
            if not self.queue and self.hold is None and not self.closing and self.before_inband is None:
                # Nothing queued or held: the next message would be queued and run at
                # once, so run it directly (the common case, on every request).
                msg = stream.next_message()
                if msg is None:
                    return
                if type(msg) is JsonError:
                    self._emit_out({"error": {"class": "GenericError", "desc": msg.desc}})
                else:
                    self._run(msg.value)
                continue
            self._parse()
            if not self.queue or self.hold is not None or self.closing:
                return
            item = self.queue[0]
            if self.before_inband is not None and not self._delayed and self.on_delay is not None:
                delay = self.before_inband(self, item)
                if delay:
                    self._delayed = True
                    self.hold = "delay"
                    self.on_delay(delay)
                    return
            self._delayed = False
            self.queue.popleft()
            if type(item) is JsonError:
                self._emit_out({"error": {"class": "GenericError", "desc": item.desc}})
            else:
                self._run(item)

    def suspend_inband(self, reason="hold") -> None:
        """Stop executing in-band requests until :meth:`resume` (OOB still runs)."""
        self.hold = reason

    def resume(self) -> None:
        """End a hold: queued in-band requests run again (the driver is told)."""
        self.hold = None
        if self.on_resume is not None:
            self.on_resume()

    def next_inband(self):
        """Peek at the next in-band request (drivers use it for fault injection)."""
        return self.queue[0] if self.queue else None

    # --- execution ----------------------------------------------------------

    def _run(self, request) -> None:
        for obs in self.observers:
            obs("in", request)
        reply, after = dispatch(self.table, request, self, self.oob_enabled)
        if reply is not None:
            if type(self.table) is NegotiationTable:
                err = reply.get("error")
                if err is not None and err.get("class") == COMMAND_NOT_FOUND:
                    del err["desc"]
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

    def _emit_out(self, obj) -> None:
        data = message(obj, self.pretty)
        self.outbox.append(data)
        self.out_bytes += len(data)
        for obs in self.observers:
            obs("out", obj)

    def send_event_bytes(self, data: bytes, obj) -> None:
        """Deliver an already-encoded event (shared by all sessions)."""
        if not self.negotiated or not self.connected:
            return
        if self.pretty:
            data = message(obj, True)
        self.outbox.append(data)
        self.out_bytes += len(data)
        for obs in self.observers:
            obs("out", obj)
        if self.notify is not None:
            self.notify()

    def send_raw(self, data: bytes) -> None:
        """Queue arbitrary bytes (fault injection)."""
        self.outbox.append(data)
        self.out_bytes += len(data)
        if self.notify is not None:
            self.notify()

    def take_output(self) -> bytes:
        if not self.outbox:
            return b""
        data = b"".join(self.outbox) if len(self.outbox) > 1 else self.outbox[0]
        self.outbox.clear()
        self.out_bytes = 0
        return data
