"""Known speech for the captions tests: espeak-ng says a sentence, ffmpeg makes it 16 kHz mono s16le.

A warm-up sentence comes first: pocketsphinx adapts to a voice as it hears it (cold, it recognised nothing of
the test sentence; warm, most of it), and a meeting's decoder is warm after a speaker's first words too.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

WARM_UP = "Hello, this is a test of the captions."
SENTENCE = "please meet me tomorrow morning at the station"
CONTENT_WORDS = ("meet", "tomorrow", "morning", "station")
SILENCE = b"\0" * 32000  # 1 s: ends an utterance for the endpointers
VOICE = ["-v", "en-us+f2", "-s", "130"]


def missing_tools() -> str | None:
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/install.sh dev installs it)"
    return None


def say(text: str, folder: Path, name: str) -> bytes:
    wav, raw = folder / f"{name}.wav", folder / f"{name}.raw"
    if not raw.exists():
        subprocess.run(["espeak-ng", *VOICE, "-w", str(wav), text], check=True, timeout=30)
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(wav), "-ar", "16000", "-ac", "1",
                        "-f", "s16le", str(raw)], check=True, timeout=30)
    return raw.read_bytes()


def speech(folder: Path) -> bytes:
    """Warm-up, a pause, the sentence, a pause: two utterances."""
    return say(WARM_UP, folder, "warm-up") + SILENCE + say(SENTENCE, folder, "sentence") + SILENCE


def heard(texts: list[str]) -> list[str]:
    words = " ".join(texts).lower().split()
    return [w for w in CONTENT_WORDS if w in words]
