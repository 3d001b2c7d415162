"""The embedded store: SQLite in WAL mode in the data folder, one group-committing writer.

schema.py  the file: opening (WAL, synchronous=FULL), tables, indexes, migrations
rows.py    rows ↔ StoredMessage, and the shapes of bound parameters
statements.py  the SQL of each operation; state changes from model.effect
writer.py  the writer thread and its group commit
store.py   SqliteStore, the Store protocol's async facade
"""

from opensmsc.store.sqlite.schema import DB_FILENAME, MIGRATIONS, migrate, schema_version
from opensmsc.store.sqlite.store import SqliteStore

__all__ = ["DB_FILENAME", "MIGRATIONS", "SqliteStore", "migrate", "schema_version"]
