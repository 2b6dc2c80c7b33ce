"""Derived arrays, computed once per source array.

Descriptions are rebuilt on every change of the view (a step of the transport, a click), so
anything costly that depends only on the results (a float32 heatmap of 512 x 5001 states, the
BPTT log-norms, colour-mapped cells) is cached here, keyed by the identity of the source arrays.
Turning U leaves the LSTM's arrays the same objects, so the LSTM's derived arrays are reused too,
and a renderer can skip redrawing an array it already shows (same object). A read-only view of a
read-only array counts as that array (at that offset and shape): progressive results hand out new
views of the same finished arrays with every partial result, and nothing is derived twice.
"""

from __future__ import annotations

import threading
import weakref
from contextlib import contextmanager

import numpy as np

_LOCK = threading.RLock()  # re-entrant: dropping a value may fire another entry's weakref callback
_CACHE: dict[tuple, tuple[list, object]] = {}
_THREAD = threading.local()  # .stop: this thread's stop_when() check


class Stopped(Exception):
    """A describe under stop_when() stopped before its next derived array: its check said so."""


@contextmanager
def stop_when(check):
    """In this thread, derived() asks check() before computing each missing array and raises
    Stopped when it answers True: the compute worker describes a result before handing it over,
    and a newer request must not wait for the whole dashboard (half a second at (512, 5000))."""
    _THREAD.stop = check
    try:
        yield
    finally:
        _THREAD.stop = None


def _identity(source):
    """(the object that stands for `source`, its geometry): a read-only view of a read-only array
    stands for that array, seen at this offset, shape and strides; anything else for itself."""
    if isinstance(source, np.ndarray) and not source.flags.writeable:
        root = source
        while isinstance(root.base, np.ndarray):
            root = root.base
        if root is not source and not root.flags.writeable:
            offset = source.__array_interface__["data"][0] - root.__array_interface__["data"][0]
            return root, (offset, source.shape, source.strides, source.dtype.str)
    return source, None


def _key(what: str, sources: tuple) -> tuple[tuple, list]:
    owners = [_identity(s) for s in sources]
    return (what, *((id(owner), geometry) for owner, geometry in owners)), [owner for owner, _ in owners]


def derived(what: str, sources: tuple, compute):
    """compute() once for this `what` and these source objects (by identity, held weakly);
    the result is made read-only when it is an ndarray."""
    key, sources = _key(what, sources)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and all(ref() is s for ref, s in zip(hit[0], sources)):
            return hit[1]
    stop = getattr(_THREAD, "stop", None)
    if stop is not None and stop():
        raise Stopped(what)
    value = compute()
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    refs = []
    for source in sources:
        try:
            refs.append(weakref.ref(source, lambda _ref, key=key, forget=_forget: forget(key)))
        except TypeError:  # not weak-referenceable (e.g. a float): identity only while alive here
            refs.append(lambda source=source: source)
    with _LOCK:
        _CACHE[key] = (refs, value)
    return value


def peek(what: str, sources: tuple):
    """What derived(what, sources, ...) has already computed, or None (never computes: for the
    UI thread, when the computing is left to a worker)."""
    key, sources = _key(what, sources)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and all(ref() is s for ref, s in zip(hit[0], sources)):
            return hit[1]
    return None


def _forget(key: tuple, lock=_LOCK, cache=_CACHE) -> None:
    # (the lock and the cache are bound here: at interpreter exit the module's globals are gone
    # before the last weakref callbacks run)
    with lock:
        dropped = cache.pop(key, None)
    del dropped  # outside the lock: freeing it may forget other entries


def size() -> int:
    with _LOCK:
        return len(_CACHE)


__all__ = ["Stopped", "derived", "peek", "size", "stop_when"]
