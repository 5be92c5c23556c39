"""Developer tools for itb (MicroPython build and checks). Not installed; run from the repository root."""
