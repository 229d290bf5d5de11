"""peronamalik art (being written)."""
