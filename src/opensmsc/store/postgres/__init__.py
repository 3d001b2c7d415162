"""The shared store of record for nodes of a cluster (issue 14): PostgreSQL, one group-committing
writer task per node, reads on a pool; the same Store protocol and semantics as the SQLite store.

schema.py      the schema: tables, indexes, migrations; connections (synchronous_commit on)
rows.py        rows ↔ StoredMessage; a batch of new rows as one binary COPY
statements.py  the SQL of each operation; set statements for batches
writer.py      the writer task and its group commit
store.py       PostgresStore, the Store protocol's async facade
"""

from opensmsc.store.postgres.schema import MIGRATIONS, migrate, schema_version
from opensmsc.store.postgres.store import PostgresStore

__all__ = ["MIGRATIONS", "PostgresStore", "migrate", "schema_version"]
