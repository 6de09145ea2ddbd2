"""Media cards (media/handover.py): what a meeting's owner keeps for the node that takes it over, as it
travels through Redis (JSON), and what is refused when it comes back damaged."""

from __future__ import annotations

import json
from dataclasses import asdict

from meetkit.media.handover import MediaCard
from meetkit.media.subscriber import SubscribedStream

STREAMS = [SubscribedStream(mid="0", type="audio", feed=7, feed_mid="0", active=True),
           SubscribedStream(mid="1", type="video", feed=None, feed_mid=None, active=False)]


def test_a_card_comes_back_as_it_went() -> None:
    card = MediaCard(session=11, presence=12, presence_id=13, private_id=14,
                     publishers={"camera": (15, 7)}, subscriber=16, streams=[asdict(s) for s in STREAMS])
    back = MediaCard.of(json.loads(json.dumps(card.to_json())))
    assert back == card
    assert [SubscribedStream.of_card(x) for x in back.streams] == STREAMS


def test_what_is_not_a_card_is_refused() -> None:
    assert MediaCard.of(None) is None
    assert MediaCard.of({"session": 1}) is None  # (another version's, or cut short)
    assert MediaCard.of({"session": "x", "presence": 1, "presence_id": 1, "private_id": 1}) is None
    # Unknown publisher kinds are dropped, not trusted; streams that are not objects too.
    card = MediaCard.of({"session": 1, "presence": 2, "presence_id": 3, "private_id": 4,
                         "publishers": {"camera": [5, 6], "microwave": [7, 8]}, "streams": ["junk"]})
    assert card is not None and card.publishers == {"camera": (5, 6)} and card.streams == []
    assert SubscribedStream.of_card({"mid": 1}) is None
