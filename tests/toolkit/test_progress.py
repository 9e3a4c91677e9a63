"""toolkit.progress: the line's wording at its boundaries, and when it is written (terminal or not)."""

from __future__ import annotations

import io

import pytest

from toolkit.progress import Progress, duration, line


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "0s"), (0.4, "0s"), (59.4, "59s"), (59.6, "1m00s"), (61, "1m01s"), (3599, "59m59s"), (3600, "1h00m")]
    + [(3725, "1h02m"), (-3, "0s")],
)
def test_it_writes_a_duration(seconds: float, expected: str) -> None:
    assert duration(seconds) == expected


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "final", "expected"),
    [
        (0, 600_000, 0.0, False, "import: 0/600,000 rows (0%)"),
        (0, 600_000, 5.0, False, "import: 0/600,000 rows (0%)"),  # no rate yet, so no time left
        (12_000, 600_000, 2.0, False, "import: 12,000/600,000 rows (2%), 6,000/s, 1m38s left"),
        (599_999, 600_000, 100.0, False, "import: 599,999/600,000 rows (99%), 6,000/s, 0s left"),
        (600_000, 600_000, 100.0, True, "import: 600,000/600,000 rows (100%), 6,000/s, done in 1m40s"),
        (700, None, 7.0, False, "import: 700 rows, 100/s"),  # total unknown
        (0, 0, 1.0, True, "import: 0 rows, done in 1s"),
    ],
)
def test_it_words_a_line(done: int, total: int | None, elapsed: float, final: bool, expected: str) -> None:
    assert line("import", done, total, elapsed, "rows", final=final) == expected


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_it_rewrites_one_line_on_a_terminal() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(10, "refresh", stream, tty=True, clock=clock)
    progress.advance(1)  # too soon after the start to redraw
    assert stream.getvalue() == ""
    clock.now += 1
    progress.advance(4)
    clock.now += 1
    progress.advance(5)  # the total: the last line, then a new line
    assert stream.getvalue() == (
        "\r\x1b[Krefresh: 5/10 (50%), 5/s, 1s left\r\x1b[Krefresh: 10/10 (100%), 5/s, done in 2s\n"
    )


def test_it_writes_a_quiet_line_now_and_then_elsewhere() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(None, "import", stream, unit="rows", tty=False, every=10, clock=clock)
    for _ in range(25):
        clock.now += 1
        progress.advance(100)
    progress.done()
    assert stream.getvalue().splitlines() == [
        "import: 1,000 rows, 100/s",
        "import: 2,000 rows, 100/s",
        "import: 2,500/2,500 rows (100%), 100/s, done in 25s",  # the total is now known
    ]


def test_it_says_nothing_of_a_short_run_outside_a_terminal() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(3, "import", stream, tty=False, clock=clock)
    progress.update(1, 3)
    clock.now += 2
    progress.update(3, 3)
    progress.done()  # a second done() changes nothing
    assert stream.getvalue() == ""


def test_it_takes_the_callback_form_with_a_growing_total() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(None, "care statuses", stream, tty=True, clock=clock)
    clock.now += 1
    progress(1000, 2500)
    clock.now += 1
    progress(2000, 2500)
    assert stream.getvalue().rsplit("\r\x1b[K", 1)[-1] == "care statuses: 2,000/2,500 (80%), 1,000/s, 0s left"


def test_it_knows_a_terminal_from_a_file(tmp_path) -> None:
    with open(tmp_path / "log", "w") as file:
        assert Progress(1, "x", file).tty is False

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Progress(1, "x", Terminal()).tty is True
