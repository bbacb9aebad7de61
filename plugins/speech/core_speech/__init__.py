"""Speech plugin for core: soundfile readers, torchaudio front end, padding-exact encoders and banks."""
