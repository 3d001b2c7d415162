"""Store and forward: a message accepted and stored, scheduled, attempted on its route, ended
with the receipt it owes, and receipts and MO delivered to ESMEs. Works on any `store.Store`;
the wiring opens it. Import from here; the modules may be split or merged.
"""

from opensmsc.engine import trail
from opensmsc.engine.accept import Acceptor, DataRespond, MultiRespond, Respond
from opensmsc.engine.decisions import AsyncPolicyEngine, Decisions, PolicyRefusal
from opensmsc.engine.deliveries import Deliveries, OutbindRequester, Receiver, ReceiverLookup
from opensmsc.engine.ids import MessageIds, part_id
from opensmsc.engine.lifecycle import Finish, Lifecycle
from opensmsc.engine.node import ClusterHints, EngineSettings, StoreAndForward
from opensmsc.engine.observer import NO_OBSERVER, MessageObserver
from opensmsc.engine.operations import Operations
from opensmsc.engine.operator import ActionRefused, OperatorActions, Refusal
from opensmsc.engine.receipts import build_receipt, receipt_text, worst_state
from opensmsc.engine.scheduler import Housekeeper, Scheduler
from opensmsc.engine.submission import InvalidSubmission, Prepared, ReceiptRequest, Submission
from opensmsc.engine.trail import NO_FINAL_LISTENER, FinalListener, Origin, trace_of

__all__ = [
    "NO_FINAL_LISTENER",
    "NO_OBSERVER",
    "Acceptor",
    "ActionRefused",
    "AsyncPolicyEngine",
    "ClusterHints",
    "DataRespond",
    "Decisions",
    "Deliveries",
    "EngineSettings",
    "FinalListener",
    "Finish",
    "Housekeeper",
    "InvalidSubmission",
    "Lifecycle",
    "MessageIds",
    "MessageObserver",
    "MultiRespond",
    "Operations",
    "OperatorActions",
    "Origin",
    "OutbindRequester",
    "PolicyRefusal",
    "Prepared",
    "ReceiptRequest",
    "Receiver",
    "ReceiverLookup",
    "Refusal",
    "Respond",
    "Scheduler",
    "StoreAndForward",
    "Submission",
    "build_receipt",
    "part_id",
    "receipt_text",
    "trace_of",
    "trail",
    "worst_state",
]
