"""The one place a captions engine is chosen from the settings."""

from __future__ import annotations

from ..config import Settings
from .engine import SpeechEngine


def make_engine(settings: Settings) -> SpeechEngine | None:
    """The configured engine; None when captions are off. Settings validation already refused a missing URL."""
    engine = settings.captions_engine
    if engine == "off":
        return None
    if engine == "pocketsphinx":
        from .pocketsphinx_engine import PocketsphinxEngine

        return PocketsphinxEngine()
    url = settings.captions_engine_url
    assert url is not None  # _check_captions
    if engine == "vosk":
        from .vosk import VoskEngine

        return VoskEngine(url, settings.captions_engine_timeout)
    from .openai_compat import OpenAICompatEngine

    key = settings.captions_engine_api_key
    return OpenAICompatEngine(url, settings.captions_engine_model, settings.captions_engine_language,
                              key.get_secret_value() if key is not None else None, settings.captions_engine_timeout)
