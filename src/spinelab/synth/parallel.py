"""Two (or more) cores for one case: loops shared out to forked processes (pure numpy, Linux).

Most of a case is made slice by slice or slab by slab: the soft tissue, the couch and the
muscles' fat septa of :func:`spinelab.synth.render.render_labels`, and the image's look-up,
blur, noise and rounding in :func:`spinelab.synth.ct.ct_image_slabs`. :func:`for_each` shares
such a loop out between this process and forked copies of it, each taking every
``workers``-th index (cheap and expensive slices alternate, so the shares take about the same
time), and waits for them. A forked copy shares only what was mapped shared before the fork,
so the loop writes into arrays from :func:`shared_zeros`; anything else it changes stays in
the copy and is lost. :func:`start` runs one task in a forked copy in the background until
:meth:`Forked.join` (the soft tissue paints half its slices without bowel there while this
process lays the bowel out). The results are the same as one process's, byte for byte, as long as
each index's work depends on nothing that another index's work changes
(tests/test_synth_parallel.py compares whole cases made with one and with two processes).

Forking is used only where it is safe: on Linux, and only while this process runs no other
Python thread (a thread holding a lock at the fork would leave it locked in the copy; the
batch writer's thread, for one, already keeps the second core busy). Elsewhere, and when an
output array is not shared, :func:`for_each` runs the loop here, in order.
"""

from __future__ import annotations

import logging
import mmap
import os
import signal
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

log = logging.getLogger(__name__)

#: The most characters of a failed worker's traceback that reach the error raised here.
_MAX_REPORT = 8000
#: The mappings made by :func:`shared_zeros` (while they live).
_SHARED: weakref.WeakSet[mmap.mmap] = weakref.WeakSet()


def can_fork() -> bool:
    """Whether :func:`for_each` may fork here: Linux, and no other Python thread running."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def shared_zeros(shape: tuple[int, ...], dtype: DTypeLike) -> NDArray[Any]:
    """A zero-filled array in an anonymous shared mapping: processes forked after this call
    write into the same memory."""
    dt = np.dtype(dtype)
    nbytes = max(1, int(np.prod(shape)) * dt.itemsize)
    # not populated here: the processes that write it share the page faults (a 143 MB image
    # filled by two: 0.08-0.10 s, populated first by one: 0.18-0.22 s)
    buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    _SHARED.add(buf)
    return np.frombuffer(buf, dtype=dt, count=int(np.prod(shape))).reshape(shape)


def is_shared(a: NDArray[Any]) -> bool:
    """Whether ``a`` (or the array it views) lies in a mapping of :func:`shared_zeros`, which
    forked processes share (not any ``mmap``: a copy-on-write file mapping is private)."""
    base: Any = a
    while base is not None:
        if isinstance(base, mmap.mmap):
            return base in _SHARED
        if isinstance(base, np.ndarray):
            base = base.base
        elif isinstance(base, memoryview):
            base = base.obj
        else:
            return False
    return False


class Forked:
    """Work running in forked copies of this process (:func:`start`); :meth:`join` waits for
    them and raises if one failed. Empty (nothing to wait for) when the work ran here."""

    def __init__(self) -> None:
        self._children: list[tuple[int, int]] = []  # (pid, read end of its error pipe)

    def fork(self, task: Callable[[], None]) -> None:
        """Run ``task`` in a new forked copy (the caller has checked :func:`can_fork`)."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the copy: the task, then out without any clean-up of the parent's
            os.close(r)
            code = 0
            try:
                task()
            except BaseException:  # everything is reported to the parent
                os.write(w, traceback.format_exc()[-_MAX_REPORT:].encode())
                code = 1
            os._exit(code)
        os.close(w)
        self._children.append((pid, r))

    def kill(self) -> None:
        """Stop and reap the copies (this process failed: do not leave them running)."""
        for pid, r in self._children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            os.close(r)
        self._children = []

    def join(self) -> None:
        """Wait for the copies.

        Raises:
            RuntimeError: A copy failed (its traceback is in the message).
        """
        failures = []
        for pid, r in self._children:
            with os.fdopen(r, "rb") as f:
                report = f.read().decode(errors="replace")
            _, status = os.waitpid(pid, 0)
            if status != 0:
                code = os.waitstatus_to_exitcode(status)
                failures.append(report.strip() or f"worker process exited with code {code}")
        self._children = []
        if failures:
            raise RuntimeError("a forked render worker failed:\n" + "\n".join(failures))


def _forkable(into: tuple[NDArray[Any], ...]) -> bool:
    return can_fork() and all(is_shared(a) for a in into)


def start(task: Callable[[], None], into: tuple[NDArray[Any], ...] = ()) -> Forked:
    """Start ``task`` in a forked copy and return at once; ``join()`` the result later.

    Where :func:`for_each` would not fork (see there; ``into`` as there), ``task`` runs here
    before this returns, and the result's ``join()`` has nothing to wait for.
    """
    forked = Forked()
    if _forkable(into):
        forked.fork(task)
    else:
        task()
    return forked


def for_each(
    n: int, work: Callable[[int], None], workers: int = 1, into: tuple[NDArray[Any], ...] = ()
) -> int:
    """Call ``work(i)`` for ``i`` in ``range(n)``, in ``workers`` processes where possible.

    Process ``p`` (this one is 0) takes ``i = p, p + workers, ...``; this process waits for the
    others before it returns. ``work`` must write its results only into the arrays ``into``
    and must not depend on what another index's call changes.

    Args:
        n: Number of indices.
        work: The work of one index.
        workers: Processes to use (1: here, in order).
        into: The arrays that ``work`` writes into: unless all of them are shared
            (:func:`is_shared`), the loop runs here.

    Returns:
        The number of processes used (1 where forking is not possible).

    Raises:
        RuntimeError: A forked worker failed (its traceback is in the message).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    workers = min(workers, max(n, 1))
    if workers == 1 or not _forkable(into):
        for i in range(n):
            work(i)
        return 1

    def share(p: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(p, n, workers):
                work(i)

        return run

    forked = Forked()
    try:
        for p in range(1, workers):
            forked.fork(share(p))
        t0 = time.perf_counter()
        share(0)()
        t1 = time.perf_counter()
    except BaseException:
        forked.kill()
        raise
    forked.join()
    log.debug(
        "for_each: %d indices in %d processes, this one's share %.3f s, then %.3f s waiting",
        n,
        workers,
        t1 - t0,
        time.perf_counter() - t1,
    )
    return workers
