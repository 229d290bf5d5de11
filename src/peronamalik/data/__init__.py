"""Package data: the bundled sample photo (``chelsea.npz``, see ``README.md`` here)."""
