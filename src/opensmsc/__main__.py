"""`python -m opensmsc` is the `opensmsc` command."""

from opensmsc.cli.main import main

raise SystemExit(main())
