"""peronamalik smooth (being written)."""
