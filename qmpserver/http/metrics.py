"""Prometheus metrics in the text exposition format (version 0.0.4), without a client library.

Exposed at ``/metrics``:

=====================================================  =========  ==============================
``qmpserver_instances``                                gauge      running instances
``qmpserver_connections``                              gauge      connected QMP clients
``qmpserver_commands_total{command}``                  counter    commands answered
``qmpserver_command_errors_total{command,class}``      counter    error replies
``qmpserver_command_duration_seconds{le}``             histogram  time from a request's dispatch to its reply
``qmpserver_events_total{event}``                      counter    events emitted
``qmpserver_defaulted_replies_total{command}``         counter    answers that were the default of
                                                                  the return type (neither modelled
                                                                  nor recorded; docs/qmp.md)
``qmpserver_instances_created_total``                  counter
``qmpserver_uptime_seconds``                           gauge
=====================================================  =========  ==============================

Command labels are the command names of the instance's schema; a name the
schema does not know is counted as ``(unknown)`` and a request without a
command as ``(invalid)``, so a client cannot grow the label set.
"""

from __future__ import annotations

import bisect
import time

BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self, control=None):
        self.control = control
        self.commands: dict = {}
        self.errors: dict = {}
        self.events: dict = {}
        self.defaults: dict = {}
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0
        self.count = 0
        self.created = 0

    def command(self, instance, name, error, seconds) -> None:
        if name is None:
            label = "(invalid)"
        elif name in instance.build.schema.commands:
            label = name
        else:
            label = "(unknown)"
        self.commands[label] = self.commands.get(label, 0) + 1
        if error is not None:
            key = (label, error.get("class", "GenericError"))
            self.errors[key] = self.errors.get(key, 0) + 1
        if seconds is not None:
            self.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.sum += seconds
            self.count += 1

    def event(self, ev) -> None:
        name = ev.get("event", "?")
        self.events[name] = self.events.get(name, 0) + 1

    def defaulted(self, name) -> None:
        """A command (of the instance's schema: a bounded label set) answered with its type's
        default (``Instance.default_listeners``)."""
        self.defaults[name] = self.defaults.get(name, 0) + 1

    def render(self) -> str:
        c = self.control
        out = []

        def head(name, typ, help_):
            out.append("# HELP %s %s" % (name, help_))
            out.append("# TYPE %s %s" % (name, typ))

        if c is not None:
            records = list(c.records.values())
            head("qmpserver_instances", "gauge", "Running simulated QEMU instances.")
            out.append("qmpserver_instances %d" % len(records))
            conns = sum(len(m.sessions) for r in records for m in r.instance.monitors)
            head("qmpserver_connections", "gauge", "Connected QMP clients.")
            out.append("qmpserver_connections %d" % conns)
            head("qmpserver_uptime_seconds", "gauge", "Seconds since the control plane started.")
            out.append("qmpserver_uptime_seconds %.3f" % (time.time() - c.started))
        head("qmpserver_commands_total", "counter", "QMP commands answered, by command.")
        for name in sorted(self.commands):
            out.append('qmpserver_commands_total{command="%s"} %d' % (_escape(name), self.commands[name]))
        head("qmpserver_command_errors_total", "counter", "QMP error replies, by command and error class.")
        for name, cls in sorted(self.errors):
            out.append(
                'qmpserver_command_errors_total{command="%s",class="%s"} %d'
                % (_escape(name), _escape(cls), self.errors[(name, cls)])
            )
        head(
            "qmpserver_command_duration_seconds",
            "histogram",
            "Time from a request's dispatch to its reply being queued.",
        )
        acc = 0
        for le, n in zip(BUCKETS, self.buckets):
            acc += n
            out.append('qmpserver_command_duration_seconds_bucket{le="%s"} %d' % (repr(le), acc))
        acc += self.buckets[-1]
        out.append('qmpserver_command_duration_seconds_bucket{le="+Inf"} %d' % acc)
        out.append("qmpserver_command_duration_seconds_sum %.9f" % self.sum)
        out.append("qmpserver_command_duration_seconds_count %d" % self.count)
        head("qmpserver_events_total", "counter", "QMP events emitted, by event.")
        for name in sorted(self.events):
            out.append('qmpserver_events_total{event="%s"} %d' % (_escape(name), self.events[name]))
        head(
            "qmpserver_defaulted_replies_total",
            "counter",
            "Replies that were the default of the command's return type (neither modelled nor recorded).",
        )
        for name in sorted(self.defaults):
            out.append(
                'qmpserver_defaulted_replies_total{command="%s"} %d' % (_escape(name), self.defaults[name])
            )
        head("qmpserver_instances_created_total", "counter", "Instances created since start.")
        out.append("qmpserver_instances_created_total %d" % self.created)
        return "\n".join(out) + "\n"
