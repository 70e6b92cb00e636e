"""Example plugin for semcodec: how a third-party package registers a codec and a trainer."""
