"""The simulated mobile network (issue 6; docs/network-adapters.md): what the default route
delivers to when no carrier is configured.

- subscriber.py, subscribers.py, subscribers_csv.py: one subscriber, the HLR's table of them,
  its CSV format;
- hlr.py: SRI-SM, ReportSM-DeliveryStatus, message-waiting data, alertServiceCentre;
- map_errors.py: the MAP errors and what each means for a retry;
- msc.py, handset.py: MT-ForwardSM and MO-ForwardSM, the phones and their inboxes;
- route.py: the engine's Route onto the network; mo.py: handsets' messages into the SMSC;
- lookup.py: the HLR lookup service (app/simulated_hlr.py builds the HLR from `[network]`);
- state.py: runtime changes and message-waiting data kept over restarts (network.sqlite3);
- simulator.py: all of it wired as one `SimulatedNetwork`.

Other packages import from here (`from opensmsc.network import SimulatedNetwork`), never from
the modules, which may be split or merged. Numbering and portability are routing's
(`opensmsc.routing`): the simulator uses them, routing never uses the simulator.
"""

from opensmsc.network.handset import (
    DEFAULT_CAPACITY,
    Handset,
    Handsets,
    InboxMessage,
    PortHandler,
    PortMessage,
    Reception,
)
from opensmsc.network.hlr import (
    AlertListener,
    DeliveryOutcome,
    HlrMode,
    MessageWaiting,
    Phase,
    RoutingInfo,
    SimulatedHlr,
)
from opensmsc.network.lookup import HlrLookup, LookupResult, mask_imsi
from opensmsc.network.map_errors import (
    GSM_NETWORK_TYPE,
    AbsentDiagnostic,
    DeliveryFailureCause,
    MapError,
    MapErrorCode,
    UnknownMapError,
    parse_map_error,
)
from opensmsc.network.mo import MO_CONNECTOR, P2P_SYSTEM_ID, MoGateway, Submitted
from opensmsc.network.msc import Mscs, MtForwardResult, SimulatedMsc
from opensmsc.network.route import NETWORK_ROUTE, DeliveryRecord, SimulatedNetworkRoute
from opensmsc.network.simulator import EngineLink, HandsetUnavailable, MoSent, SimulatedNetwork
from opensmsc.network.state import NetworkState, StateNotSaved
from opensmsc.network.subscriber import (
    DEFAULT_NETWORK,
    DuplicateSubscriber,
    Latency,
    PrefixDefault,
    Subscriber,
    SubscriberNotFound,
    SubscriberState,
    make_imsi,
)
from opensmsc.network.subscribers import SubscriberTable
from opensmsc.network.subscribers_csv import CSV_COLUMNS

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_CAPACITY",
    "DEFAULT_NETWORK",
    "GSM_NETWORK_TYPE",
    "MO_CONNECTOR",
    "NETWORK_ROUTE",
    "P2P_SYSTEM_ID",
    "AbsentDiagnostic",
    "AlertListener",
    "DeliveryFailureCause",
    "DeliveryOutcome",
    "DeliveryRecord",
    "DuplicateSubscriber",
    "EngineLink",
    "Handset",
    "HandsetUnavailable",
    "Handsets",
    "HlrLookup",
    "HlrMode",
    "InboxMessage",
    "Latency",
    "LookupResult",
    "MapError",
    "MapErrorCode",
    "MessageWaiting",
    "MoGateway",
    "MoSent",
    "Mscs",
    "MtForwardResult",
    "NetworkState",
    "Phase",
    "PortHandler",
    "PortMessage",
    "PrefixDefault",
    "Reception",
    "RoutingInfo",
    "SimulatedHlr",
    "SimulatedMsc",
    "SimulatedNetwork",
    "SimulatedNetworkRoute",
    "StateNotSaved",
    "Submitted",
    "Subscriber",
    "SubscriberNotFound",
    "SubscriberState",
    "SubscriberTable",
    "UnknownMapError",
    "make_imsi",
    "mask_imsi",
    "parse_map_error",
]
