"""``peronamalik studio``: a local web page where the "on drugs" animation plays as it is made.

:func:`peronamalik.studio.server.create_app` builds the Starlette app (one static page, a
WebSocket per session streaming binary JPEG frames, uploads, downloads and the classic
before/after view); :func:`peronamalik.studio.server.serve` runs it on uvicorn.
"""
