"""Source coders: image -> bytes and back (no channel, no codec logic)."""
