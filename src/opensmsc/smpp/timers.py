"""The session timers of SMPP 3.4 §7.2 (digest §1.9), as deadlines on the caller's clock.

What this is for: remembering when the session started, when the peer was last heard and when
real traffic last crossed, and turning that into deadlines. What it is not: a clock or a
scheduler. Nothing here reads the time; `connection.Connection` passes `now` in, asks for the
next deadline, and acts when one has passed. The response timer lives with the requests it
watches, in window.RequestWindow.

The timers, exactly (None in SessionConfig turns one off):
- session_init_timeout: from construction until bound. On expiry the connection closes
  (ConnectionTerminated(SESSION_INIT_TIMEOUT)). It runs in both roles, so an ESME that never
  gets its bind_resp, or never gets its bind after an outbind, gives up too.
- enquire_link_interval: while bound, when nothing at all has been received for this long and no
  enquire_link of ours is outstanding, the connection sends one. It is reported by no event;
  if it gets no response within response_timeout, that counts as one response timeout, and the
  next enquire_link goes out at once (the peer is still silent).
- inactivity_timeout: while bound, when no PDU other than enquire_link / enquire_link_resp has
  crossed the wire in either direction for this long, the connection starts an unbind exactly
  as `unbind()` would; the session ends with ConnectionTerminated(INACTIVITY). enquire_link does
  not count as traffic, or the keep-alive would defeat this timer.
- response_timeout: for each request of ours. On expiry RequestTimedOut frees its window slot
  (our own enquire_link times out silently). After max_consecutive_timeouts expiries with no
  response in between, the connection closes (ConnectionTerminated(LINK_DEAD)). A bind that
  times out closes it at once (RequestTimedOut, then ConnectionTerminated(BIND_TIMEOUT)): whether
  the SMSC bound us is unknowable, and a late bind_resp would split the two sides' states.
- drain_timeout bounds the unbind drain; see the connection module.
None of these timers runs while the session is unbinding, except the response timer.
"""

from __future__ import annotations


class SessionTimers:
    """session_init, enquire_link and inactivity deadlines. Times are the caller's `now`."""

    __slots__ = (
        "created",
        "enquire_link_interval",
        "enquire_seq",
        "inactivity_timeout",
        "last_activity",
        "last_rx",
        "session_init_timeout",
    )

    def __init__(
        self,
        *,
        now: float,
        session_init_timeout: float | None,
        enquire_link_interval: float | None,
        inactivity_timeout: float | None,
    ) -> None:
        self.session_init_timeout = session_init_timeout
        self.enquire_link_interval = enquire_link_interval
        self.inactivity_timeout = inactivity_timeout
        self.created = now
        self.last_rx = now  # any PDU received
        self.last_activity = now  # any PDU but enquire_link[_resp], either way
        self.enquire_seq: int | None = None  # our keep-alive enquire_link in flight

    def next_deadline(self, *, bound: bool) -> float | None:
        """The earliest of the timers that run in this condition (not unbinding)."""
        if not bound:
            timeout = self.session_init_timeout
            return None if timeout is None else self.created + timeout
        best: float | None = None
        if self.enquire_link_interval is not None and self.enquire_seq is None:
            best = self.last_rx + self.enquire_link_interval
        if self.inactivity_timeout is not None:
            when = self.last_activity + self.inactivity_timeout
            if best is None or when < best:
                best = when
        return best

    def session_init_expired(self, now: float) -> bool:
        timeout = self.session_init_timeout
        return timeout is not None and now >= self.created + timeout

    def enquire_link_due(self, now: float) -> bool:
        interval = self.enquire_link_interval
        return interval is not None and self.enquire_seq is None and now >= self.last_rx + interval

    def inactivity_expired(self, now: float) -> bool:
        timeout = self.inactivity_timeout
        return timeout is not None and now >= self.last_activity + timeout


__all__ = ["SessionTimers"]
