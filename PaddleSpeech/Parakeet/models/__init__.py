"""The networks, one file per model: transformer_tts, fastspeech, deepvoice3 (acoustic, acoustic.py drives
them) and wavenet, clarinet, waveflow (vocoders, vocoder.py drives them)."""
