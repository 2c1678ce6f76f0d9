"""Live migration between instances: the stream (:mod:`.stream`), the channels
that carry it (:mod:`.channel`) and what each side sends and checks
(:mod:`.engine`).  The QMP commands and the state machine are
:mod:`qmpserver.commands.migration`."""
