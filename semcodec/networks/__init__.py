"""Neural networks used by the learned codecs (no codec logic, no channel)."""
