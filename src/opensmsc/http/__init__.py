"""The HTTP admin interface (transport floor): the ASGI app (app.py), its routes (routes/), RFC
9457 problem documents for every error (problems.py) and the uvicorn listener (server.py)."""
