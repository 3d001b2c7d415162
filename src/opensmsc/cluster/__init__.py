"""Several opensmsc nodes as one SMSC (issue 14): the NATS JetStream side.

bus.py (the node's NATS connection), bucket.py (KV buckets with TTL: records and leases),
membership.py (who is alive, with what sessions, connectors and load), wakeups.py (cross-node
hints: receipts and MO for an account bound elsewhere, new due work), ownership.py (which nodes
bind each upstream connector), limits.py (throughput caps and max_binds held cluster-wide).
The store stays the truth: everything here is a hint or a lease that expires.
"""
