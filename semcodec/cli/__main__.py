"""``python -m semcodec.cli``: the same as the ``semcodec`` command."""

from . import main

main()
