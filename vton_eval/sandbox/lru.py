"""A small thread-safe LRU map for the sandbox's caches (verdicts per uploaded file, rendered outputs)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class LRU:
    """A small thread-safe LRU map; `on_evict` lets the output cache delete its files."""

    def __init__(self, size: int, on_evict=None) -> None:
        self._size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._on_evict = on_evict

    def get(self, key: Any) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            evicted = []
            while len(self._items) > self._size:
                evicted.append(self._items.popitem(last=False)[1])
        if self._on_evict:
            for value in evicted:
                self._on_evict(value)
