"""The unit tier: pure rules and in-process objects (fakes only at process boundaries); no server, fast."""
