"""Live captions: speech-to-text engines behind one small interface (engine.py).

Each speaker's audio (16 kHz mono s16le) is fed to a :class:`~meetkit.captions.engine.SpeechStream` of the
configured :class:`~meetkit.captions.engine.SpeechEngine`: pocketsphinx in-process (the default, offline),
a Vosk server (vosk.py) or an OpenAI-compatible transcription server (openai_compat.py). No audio leaves the
machine unless one of the last two is configured. See docs/captions.md, "Engines".
"""
