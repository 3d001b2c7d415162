"""`python -m opensmsc` is the `opensmsc` command."""

from opensmsc.cli import main

raise SystemExit(main())
