"""The routes of the HTTP admin interface, one module per area."""
