"""The transcript's export forms (domain/transcript.py) and the captions settings (config.py, engines.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from meetkit.captions.engines import make_engine
from meetkit.config import Settings
from meetkit.domain.transcript import MAX_TEXT_LENGTH, Cue, clean_text, timestamp, to_json, to_webvtt


def test_webvtt_exactly() -> None:
    cues = [
        Cue("p2", "Bob <the> Builder & Co", 3725.5, 3727.0049, "x < y & y > z"),
        Cue("p1", "Ana", 0.0, 1.25, "  hello\n  world "),
        Cue("p1", "Ana", 2.0, 2.5, "   "),  # nothing said: skipped
    ]
    assert to_webvtt(cues) == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:01.250\n"
        "<v Ana>hello world\n"
        "\n"
        "01:02:05.500 --> 01:02:07.005\n"
        "<v Bob &lt;the&gt; Builder &amp; Co>x &lt; y &amp; y &gt; z\n"
    )


def test_webvtt_edge_cases() -> None:
    assert to_webvtt([]) == "WEBVTT\n"
    assert timestamp(100 * 3600 + 0.0004) == "100:00:00.000"
    assert timestamp(-1) == "00:00:00.000"
    assert timestamp(59.9996) == "00:01:00.000"
    # A name on several lines stays on the cue's line; an empty one gets a placeholder; "-->" cannot end a cue.
    vtt = to_webvtt([Cue("p", "A\nB", 1, 0.5, "a --> b"), Cue("q", " ", 1, 2, "c")])
    assert "<v A B>a --&gt; b" in vtt and "00:00:01.000 --> 00:00:01.000" in vtt and "<v Speaker>c" in vtt


def test_json_sorted_and_cleaned() -> None:
    cues = [Cue("p2", "Bob", 5.12345, 6.0, "later"), Cue("p1", "Ana", 1.0, 2.0, " first  one "),
            Cue("p1", "Ana", 3.0, 4.0, "")]
    assert to_json(cues) == [
        {"speaker": "Ana", "participant_id": "p1", "start": 1.0, "end": 2.0, "text": "first one"},
        {"speaker": "Bob", "participant_id": "p2", "start": 5.123, "end": 6.0, "text": "later"},
    ]


def test_clean_text() -> None:
    assert clean_text("  a \t b\n\nc  ") == "a b c"
    assert len(clean_text("word " * 400)) <= MAX_TEXT_LENGTH


def test_captions_settings(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert (s.captions_engine, s.captions_engine_model, s.captions_engine_timeout) == ("pocketsphinx", "whisper-1", 10)
    engine = make_engine(s)
    assert engine is not None and engine.name == "pocketsphinx"
    assert make_engine(Settings(data_dir=tmp_path, captions_engine="off")) is None
    vosk = make_engine(Settings(data_dir=tmp_path, captions_engine="vosk", captions_engine_url="ws://127.0.0.1:2700"))
    assert vosk is not None and vosk.name == "vosk"
    openai = make_engine(Settings(data_dir=tmp_path, captions_engine="openai", captions_engine_api_key="sk-x",
                                  captions_engine_url="http://127.0.0.1:8000/v1/audio/transcriptions"))
    assert openai is not None and openai.name == "openai"


@pytest.mark.parametrize(("fields", "message"), [
    ({"captions_engine": "vosk"}, "needs MEETKIT_CAPTIONS_ENGINE_URL"),
    ({"captions_engine": "openai"}, "needs MEETKIT_CAPTIONS_ENGINE_URL"),
    ({"captions_engine": "vosk", "captions_engine_url": "http://127.0.0.1:2700"}, "must start with ws://"),
    ({"captions_engine": "openai", "captions_engine_url": "ws://127.0.0.1"}, "must start with http://"),
    ({"captions_engine_url": "ws://127.0.0.1:2700"}, "only used by vosk and openai"),
    ({"captions_engine_timeout": 0}, "greater than 0"),
])
def test_captions_settings_refused(tmp_path: Path, fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(data_dir=tmp_path, **fields)


def test_api_key_never_shown(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, captions_engine="openai", captions_engine_url="https://stt.example.com/v1/x",
                 captions_engine_api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(s) and "sk-very-secret" not in str(s.model_dump())
