"""``python -m semcodec``: the same command line as ``semcodec``."""

from .cli import main

main()
