"""AcceptedEnvelopes: which envelopes are kept for the late replay probe, and which one is picked."""

from __future__ import annotations

from dataclasses import dataclass

from conformance.accepted_envelopes import AcceptedEnvelopes


@dataclass
class _Answer:
    code: str | None
    verdicts: list


OK = _Answer("0000", ["accepted", "accepted"])


def test_only_envelopes_accepted_whole_are_kept():
    book = AcceptedEnvelopes(spacing_s=0)
    book.note(b"partly", _Answer("0000", ["accepted", "duplicate"]), 0.0)
    book.note(b"refused", _Answer("1110", []), 1.0)
    book.note(b"empty", _Answer("0000", []), 2.0)
    book.note(b"whole", OK, 3.0)
    assert [s.body for s in book._items] == [b"whole"]


def test_at_most_one_per_spacing_and_none_older_than_kept():
    book = AcceptedEnvelopes(keep_s=100, spacing_s=5)
    for i, t in enumerate((0.0, 1.0, 4.9, 5.0, 9.0, 10.0, 120.0)):
        book.note(f"e{i}".encode(), OK, t)
    assert [(s.at, s.body) for s in book._items] == [(120.0, b"e6")]
    book2 = AcceptedEnvelopes(keep_s=100, spacing_s=5)
    for i, t in enumerate((0.0, 1.0, 4.9, 5.0, 9.0, 10.0)):
        book2.note(f"e{i}".encode(), OK, t)
    assert [s.at for s in book2._items] == [0.0, 5.0, 10.0]


def test_pick_the_youngest_ripe_one_else_the_oldest_fresh_one_else_none():
    book = AcceptedEnvelopes(keep_s=1000, spacing_s=0)
    for t in (0.0, 50.0, 100.0, 180.0):
        book.note(str(t).encode(), OK, t)
    # at 200: ages 200, 150, 100, 20; ripe between 65 and 170 -> the youngest ripe is 100 s old (sent at 100)
    assert book.pick(65, 170, now=200.0).at == 100.0
    # at 200 with nothing ripe inside 65..90: the oldest one younger than 90 (sent at 180), to wait for
    assert book.pick(65, 90, now=200.0).at == 180.0
    # everything too old
    assert book.pick(65, 10, now=400.0) is None
    assert AcceptedEnvelopes().pick(65, 270, now=0.0) is None
