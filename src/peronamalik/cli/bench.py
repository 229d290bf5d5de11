"""peronamalik bench (being written)."""
