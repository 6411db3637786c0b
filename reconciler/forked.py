"""Work on a long list of independent items, split across forked copies of this process.

Owns one thing: ``in_order(work, items)`` returns ``work(items)`` computed in chunks, the
first by this process and each other by a child made with ``os.fork`` (a copy of this
process: nothing to import, nothing to send but the items' index range), whose result comes
back pickled through a pipe. The chunks' results are concatenated in the items' order, so
the answer is the same as one call's; only the wall time differs.

Reading 10,000 spec files is CPU work under one interpreter lock: threads cannot share it,
but a second core can (a plan's cluster read cannot start before every file is checked, so
nothing else would use that core meanwhile). A child costs a fork and the pickling of its
results (about a tenth of the work it saved), so a list is split only where each chunk is
large (`MIN_CHUNK`), and only where forking is safe and useful:

- on Linux (fork is the only cheap start; macOS's system libraries are not fork-safe);
- while this process runs one thread (a fork copies only the calling thread: a lock held by
  another one would stay held in the child);
- as many processes as there are idle cores (this one's included): the cores this process
  may run on less the other tasks runnable now (else the load average, rounded). On a busy
  machine a child only
  waits for a core, and its pickling is extra work: at load average 10 on 2 cores, 10,000
  specs took 1.47 s split against 1.23 s alone.

``RECONCILER_PROCESSES`` (a whole number) sets the number of processes instead (1: never
split), for a container whose CPU quota is below the cores it sees, or to compare.

Anything going wrong in a child (it dies, its pipe breaks, its result does not unpickle)
costs only time: its chunk is worked out again here. Not for work with side effects.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

log = logging.getLogger("reconciler.forked")
T = TypeVar("T")
R = TypeVar("R")

MIN_CHUNK = (
    500  # items below which a child costs more than it saves (10,000 specs: 0.2 s each half)
)
MAX_WORKERS = 4  # beyond this the parent's unpickling of every chunk's result dominates


def workers_for(count: int) -> int:
    """How many processes (this one included) would share ``count`` items here and now."""
    if sys.platform != "linux" or threading.active_count() != 1 or count < 2 * MIN_CHUNK:
        return 1
    return max(1, min(MAX_WORKERS, count // MIN_CHUNK, _processes()))


def _processes() -> int:
    """``RECONCILER_PROCESSES``, else one per idle core (this process's own counted)."""
    asked = os.environ.get(PROCESSES, "").strip()
    if asked.isdigit():
        return int(asked)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, round(cores - _busy())))


def _busy() -> float:
    """How many cores other work keeps busy now: the tasks runnable besides this one
    (``/proc/loadavg``'s fourth field; the fewest of three looks 2 ms apart, as a task that
    wakes for a moment is no load), else the 1-minute load average. The average lags: for a
    minute after a busy spell ends (the previous command of a script, a build) it still says
    a core is taken, and a plan of 50,000 specs then read them in one process."""
    try:
        looks = []
        for look in range(3):
            if look:
                time.sleep(0.002)
            with open(LOADAVG, encoding="ascii") as stream:
                looks.append(int(stream.read().split()[3].partition("/")[0]))
        return max(0, min(looks) - 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


PROCESSES = "RECONCILER_PROCESSES"
LOADAVG = "/proc/loadavg"


def in_order(
    work: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    *,
    pack: Callable[[list[R]], Any] | None = None,
    unpack: Callable[[Any], list[R]] | None = None,
) -> list[R]:
    """``work(items)``, the items split into ``workers_for`` contiguous chunks. ``pack`` and
    ``unpack`` (both or neither): what a child's answer travels as, where the results pickle
    slowly (objects of classes) and plain data that ``unpack`` turns back into them does not."""
    workers = workers_for(len(items))
    if workers == 1:
        return work(items)
    log.debug("%d items shared by %d processes", len(items), workers)
    bounds = [len(items) * k // workers for k in range(workers + 1)]
    chunks = [items[bounds[k] : bounds[k + 1]] for k in range(workers)]
    sent = work if pack is None else lambda chunk: pack(work(chunk))
    pending = [(_start(sent, chunk), chunk) for chunk in chunks[1:]]
    try:
        results = work(chunks[0])
        while pending:
            child, chunk = pending.pop(0)
            results.extend(_collect(child, work, chunk, unpack))
    except BaseException:  # interrupted or failing here: the children's answers are not wanted
        for child, _ in pending:
            _abandon(child)
        raise
    return results


def _start(work: Callable[[Sequence[T]], Any], chunk: Sequence[T]) -> tuple[int, int] | None:
    """A child working out ``chunk``: (its pid, the pipe it answers on); None if none started."""
    try:
        reading, writing = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(reading)
        os.close(writing)
        return None
    if pid == 0:  # the child: work, answer, and leave without running the parent's exit code
        code = 1
        try:
            os.close(reading)
            answer = work(chunk)
            with os.fdopen(writing, "wb") as pipe:
                pickle.dump(answer, pipe, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        finally:
            os._exit(code)
    os.close(writing)
    return pid, reading


def _collect(
    child: tuple[int, int] | None,
    work: Callable[[Sequence[T]], list[R]],
    chunk: Sequence[T],
    unpack: Callable[[Any], list[R]] | None = None,
) -> list[R]:
    """The child's answer for ``chunk``; worked out here when it has none."""
    if child is None:
        return work(chunk)
    pid, reading = child
    result: list[R] | None = None
    with os.fdopen(reading, "rb") as pipe:
        try:  # read as it comes: the answer is never in memory twice (pickled and built)
            result = pickle.load(pipe)
            if unpack is not None:
                result = unpack(result)
        except Exception:  # noqa: BLE001  # a broken answer: the work is redone, never lost
            result = None
    _, status = os.waitpid(pid, 0)
    if status == 0 and result is not None:
        return result
    log.debug(
        "a forked process did not answer (status %d): its %d items done here", status, len(chunk)
    )
    return work(chunk)


def _abandon(child: tuple[int, int] | None) -> None:
    """Stop a child whose answer is no longer wanted (this process is failing or interrupted)."""
    if child is None:
        return
    pid, reading = child
    with contextlib.suppress(OSError):
        os.close(reading)  # a child still writing gets EPIPE
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
