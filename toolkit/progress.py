"""Progress of a long command: counts, rate and time left.

On a terminal one line is rewritten in place (at most every `redraw` seconds); anywhere else (a log,
a pipe, cron's mail) a plain line is written every `every` seconds, and nothing at all for a run
shorter than that, so quick runs and tests stay quiet.

    progress = Progress(total=len(rows), label="import", stream=sys.stderr)
    for chunk in chunks:
        ...
        progress.advance(len(chunk))
    progress.done()

A caller that takes a callback `(done, total)` gets `progress.update` (the total may grow)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def duration(seconds: float) -> str:
    """Seconds as people read a countdown: 42s, 3m05s, 1h02m."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def line(label: str, done: int, total: int | None, elapsed: float, unit: str = "", *, final: bool = False) -> str:
    """One progress line: `import: 12,000/600,000 (2%), 5,012/s, 1m57s left`; the last one says
    `done in ...` instead of the time left."""
    counted = f"{done:,}/{total:,}" if total else f"{done:,}"
    text = f"{label}: {counted}{f' {unit}' if unit else ''}"
    if total:
        text += f" ({min(100, 100 * done // total)}%)"
    rate = done / elapsed if elapsed > 0 else 0.0
    if rate:
        text += f", {rate:,.0f}/s"
    if final:
        text += f", done in {duration(elapsed)}"
    elif rate and total and done < total:
        text += f", {duration((total - done) / rate)} left"
    return text


def raw(stream: TextIO) -> TextIO:
    """The stream under Django's OutputWrapper (a command's self.stdout/self.stderr), which would end
    every write with a newline and so break the terminal's rewritten line."""
    return getattr(stream, "_out", stream)


class Progress:
    def __init__(
        self,
        total: int | None,
        label: str,
        stream: TextIO | None = None,
        *,
        unit: str = "",
        every: float = 10.0,
        redraw: float = 0.2,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.label = label
        self.stream = raw(stream) if stream is not None else sys.stderr
        self.unit = unit
        self.tty = _is_tty(self.stream) if tty is None else tty
        self.every = redraw if self.tty else every
        self.clock = clock
        self.started = clock()
        self.count = 0
        self._shown_at = self.started
        self._shown = False
        self._finished = False

    def advance(self, n: int = 1) -> None:
        self.update(self.count + n)

    def update(self, done: int, total: int | None = None) -> None:
        """The callback form: `done` so far of `total` (unchanged when None); reaching the total is done()."""
        self.count = done
        if total is not None:
            self.total = total
        if self.total and done >= self.total:
            self.done()
            return
        now = self.clock()
        if now - self._shown_at >= self.every:
            self._show(now)

    __call__ = update

    def done(self) -> None:
        """The last line: on a terminal always, elsewhere only after a periodic line was written."""
        if self._finished:
            return
        self._finished = True
        if self.total is None or self.count > self.total:
            self.total = self.count
        if self.tty or self._shown:
            self._show(self.clock(), final=True)

    def _show(self, now: float, *, final: bool = False) -> None:
        text = line(self.label, self.count, self.total, now - self.started, self.unit, final=final)
        if self.tty:
            self.stream.write(f"\r\x1b[K{text}{chr(10) if final else ''}")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._shown_at = now
        self._shown = True


def _is_tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False
