"""CLI-only helpers: the demo, local trials, manual runs from the console, transcripts."""
