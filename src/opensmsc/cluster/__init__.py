"""Several opensmsc nodes as one SMSC (issue 14): the NATS JetStream side.

bus.py (the node's NATS connection), bucket.py (KV buckets with TTL: records and leases),
membership.py (who is alive, with what sessions, connectors and load), wakeups.py (cross-node
hints: receipts and MO for an account bound elsewhere, new due work), ownership.py (which nodes
bind each upstream connector), limits.py (throughput caps and max_binds held cluster-wide).
The store stays the truth: everything here is a hint or a lease that expires.
"""

from opensmsc.cluster.bucket import Bucket, BusUnavailable
from opensmsc.cluster.bus import Bus
from opensmsc.cluster.limits import BindSlots, SharedBucket, SharedRates, fair_shares
from opensmsc.cluster.membership import Membership, NodeRecord, SessionCounts
from opensmsc.cluster.ownership import ConnectorOwnership
from opensmsc.cluster.wakeups import Wakeups

__all__ = [
    "BindSlots",
    "Bucket",
    "Bus",
    "BusUnavailable",
    "ConnectorOwnership",
    "Membership",
    "NodeRecord",
    "SessionCounts",
    "SharedBucket",
    "SharedRates",
    "Wakeups",
    "fair_shares",
]
