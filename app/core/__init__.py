"""The engine: plain Python, no Qt. The CLI and the GUI both drive it."""
