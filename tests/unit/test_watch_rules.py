"""Watch together's rules (domain/watch.py): what may be shared, and the timeline every page follows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meetkit.domain.watch import Source, Timeline, WatchError, source_of_url, youtube_id

T0 = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("url, video", [
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ"),
    ("https://youtu.be/dQw4w9WgXcQ?t=10", "dQw4w9WgXcQ"),
    ("https://www.youtube.com/embed/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
    ("https://m.youtube.com/shorts/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
    ("http://www.youtube.com/watch?v=dQw4w9WgXcQ", None),  # not HTTPS
    ("https://www.youtube.com/watch?v=short", None),
    ("https://evil.example/watch?v=dQw4w9WgXcQ", None),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ%22%3E", None),
])
def test_youtube_links(url: str, video: str | None) -> None:
    assert youtube_id(url) == video


def test_links_that_may_be_shared() -> None:
    assert source_of_url("https://cdn.example/film.mp4") == Source(kind="url", url="https://cdn.example/film.mp4")
    assert source_of_url(" https://youtu.be/dQw4w9WgXcQ ") == Source(kind="youtube", video_id="dQw4w9WgXcQ")
    for bad in ("http://cdn.example/film.mp4", "javascript:alert(1)", "https://user:pw@cdn.example/f.mp4",
                "https://cdn.example/a b.mp4", "https://" + "a" * 3000, "file:///etc/passwd", "https://"):
        with pytest.raises(WatchError):
            source_of_url(bad)


def test_the_timeline_moves_only_while_playing() -> None:
    tl = Timeline(source=Source(kind="file", file_id="f"), sharer="h", controller="h", playing=False,
                  position=0.0, at=T0)
    assert tl.position_at(T0 + timedelta(seconds=30)) == 0.0
    playing = tl.controlled(T0 + timedelta(seconds=5), playing=True, position=None)
    assert playing.position_at(T0 + timedelta(seconds=7.5)) == pytest.approx(2.5)
    seeked = playing.controlled(T0 + timedelta(seconds=8), playing=True, position=100.0)
    assert seeked.position_at(T0 + timedelta(seconds=9)) == pytest.approx(101.0)
    paused = seeked.controlled(T0 + timedelta(seconds=10), playing=False, position=None)
    assert paused.position == pytest.approx(102.0) and paused.position_at(T0 + timedelta(hours=1)) == paused.position
    with pytest.raises(WatchError):
        tl.controlled(T0, playing=True, position=-1.0)
    assert Timeline.from_json(paused.handed_to("g").to_json()) == paused.handed_to("g")
