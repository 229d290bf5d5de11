"""peronamalik video (being written)."""
