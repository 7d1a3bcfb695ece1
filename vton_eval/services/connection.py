"""The gradio_client Clients of one connected endpoint, and the guard every request of theirs goes through.

One Client serves every call of a run, except against a Gradio 4 server. A client's calls share one event
stream per session, which the server ends when the session's last event completes; gradio_client 2.x
copes with that for Gradio 5 and later, but against Gradio 4 servers calls in flight together race it:
the stream ends under a call that just joined, or (Gradio up to 4.16, protocol `sse_v1`) the server's
"Session not found" arrives as a message gradio_client cannot place (`KeyError: 'event_id'` in its
stream reader). The calls waiting on that stream end as lost connections, and a call submitted after
the reader died waits for ever, to the call's deadline. Measured against the compatibility suite's
servers, 120 calls at a time, four or eight in flight, with one Client: Gradio 4.16 lost 4 of 240 and
held 1 to its deadline, 4.24 lost 3 of 240 (4.41 none of 200); with a Client per call in flight, none.
The release that fixed it is not known, so against any Gradio 4 server each call leases a Client of its
own (made on demand, at most one per call in flight, kept for the next call), and a Client whose call
did not end cleanly (timed out, stopped, connection lost) is closed rather than lent again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from vton_eval.http_fetch import ClientGuard


class Connection:
    """A connected endpoint: its first Client (`client`, which read the API), more for a Gradio 4 server."""

    def __init__(self, client: Any, guard: ClientGuard, make_client: Callable[[], Any]) -> None:
        self.client = client
        self.guard = guard
        version = getattr(client, "app_version", None)
        self.one_call_per_client = version is not None and version.major < 5
        self._make_client = make_client
        self._idle = [client]
        self._spoiled: set[int] = set()
        self._all = [client]
        self._lock = threading.Lock()

    @contextmanager
    def lease(self) -> Iterator[Any]:
        """A Client for one call. Tell `spoil(client)` when the call did not end cleanly."""
        if not self.one_call_per_client:
            yield self.client
            return
        with self._lock:
            client = self._idle.pop() if self._idle else None
        if client is None:
            client = self._make_client()
            with self._lock:
                self._all.append(client)
        try:
            yield client
        finally:
            with self._lock:
                spoiled = id(client) in self._spoiled
                self._spoiled.discard(id(client))
                if not spoiled:
                    self._idle.append(client)
            if spoiled:
                _close_quietly(client)

    def spoil(self, client: Any) -> None:
        """The call on `client` ended with its job possibly still running: do not lend it again."""
        if self.one_call_per_client:
            with self._lock:
                self._spoiled.add(id(client))

    def close(self) -> None:
        with self._lock:
            clients, self._all, self._idle = list(self._all), [], []
        for client in clients:
            _close_quietly(client)
        self.guard.shutdown()


def _close_quietly(client: Any) -> None:
    try:
        client.close()
    except Exception:  # best effort: closing a client whose server died must not fail a run
        pass


def cancel_in_background(job: Any) -> None:
    """Tell the server to drop a job without waiting: the cancel request may hang like the call did."""
    threading.Thread(target=_cancel_quietly, args=(job,), name="vton-cancel", daemon=True).start()


def _cancel_quietly(job: Any) -> None:
    try:
        job.cancel()
    except Exception:  # best effort: the job ends when the server notices the closed stream
        pass
