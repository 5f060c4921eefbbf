"""Long commands: a bar on a terminal, one summary line with the rate anywhere else."""

import io
from collections.abc import Iterator

from service_kit.progress import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def ticking(step: float) -> Iterator[float]:
    now = 0.0
    while True:
        yield now
        now += step


def test_without_a_terminal_only_a_summary_with_the_rate_is_printed() -> None:
    out = io.StringIO()
    clock = ticking(0.5)

    with progress("seeding items", total=3000, file=out, clock=lambda: next(clock)) as advance:
        advance(1000)
        advance(2000)

    assert out.getvalue() == "seeding items: 3,000 in 0.5 s (6,000/s)\n"


def test_on_a_terminal_a_known_total_is_a_bar_that_reaches_it() -> None:
    out = Terminal()

    with progress("seeding items", total=4, file=out) as advance:
        advance(2)
        advance(2)

    shown = out.getvalue()
    assert "seeding items" in shown
    assert "100%" in shown
    assert "4/4" in shown
    assert shown.rstrip().splitlines()[-1].startswith("seeding items: 4 in ")


def test_on_a_terminal_an_unknown_total_is_a_running_count() -> None:
    out = Terminal()

    with progress("pruning", unit=" rows", file=out) as advance:
        advance(10_000)
        advance(2_500)

    shown = out.getvalue()
    assert "\rpruning: 10,000 rows (" in shown
    assert "\rpruning: 12,500 rows (" in shown
    assert shown.splitlines()[-1].startswith("pruning: 12,500 rows in ")


def test_nothing_done_is_still_summed_up() -> None:
    out = io.StringIO()

    with progress("pruning", file=out):
        pass

    assert out.getvalue().startswith("pruning: 0 in ")
