"""The `opensmsc` command line: verbs in their own modules, dispatched by `main.py`."""
