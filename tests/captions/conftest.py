"""The captions tier: real engines (pocketsphinx in-process) against stand-in servers on 127.0.0.1."""

from __future__ import annotations

import pytest

from .speech import missing_tools, speech


@pytest.fixture(scope="session")
def speech_pcm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    return speech(tmp_path_factory.mktemp("speech"))
