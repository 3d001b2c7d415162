"""The PTS code tables of IMPS over SMS: transaction codes, element codes, CSP status codes.

One table each, data not code, so that a real OMA code can replace one of ours in one place.
Sources: AIM's `PtsCodes.java` (the codes a real client speaks), `ImpsErrorInfo.java` and
`ImpsConstants.java` (status codes), digest §5.2. AIM has no code for the messaging and blocking
primitives; the codes marked `standard=False` below are opensmsc's own (NON-STANDARD, listed in
docs/imps.md). This module only names codes; reading and writing them is `imps.pts`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType


class Direction(enum.Enum):
    """Who sends a primitive."""

    CLIENT_TO_SERVER = "C→S"
    SERVER_TO_CLIENT = "S→C"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class TransactionCode:
    """One row of the transaction table: the two letters of a preamble and what they mean."""

    code: str
    primitive: str  # the CSP primitive name
    direction: Direction
    standard: bool  # False: our own code, not from AIM or the OMA binding (NON-STANDARD)
    note: str = ""


_C, _S, _B = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT, Direction.BOTH

_TRANSACTIONS = (
    # AIM PtsCodes.java sTransactionToCode (client requests) and sCodeToTransaction (server side)
    TransactionCode("LR", "Login-Request", _C, True),
    TransactionCode("CP", "ClientCapability-Request", _C, True),
    TransactionCode("SQ", "Service-Request", _C, True),
    TransactionCode("OR", "Logout-Request", _C, True),
    TransactionCode("KA", "KeepAlive-Request", _C, True, "commented out in AIM's table"),
    TransactionCode("PO", "Polling-Request", _C, True),
    TransactionCode("GL", "GetList-Request", _C, True),
    TransactionCode("CL", "CreateList-Request", _C, True),
    TransactionCode("DL", "DeleteList-Request", _C, True),
    TransactionCode("LM", "ListManage-Request", _C, True),
    TransactionCode("GP", "GetPresence-Request", _C, True),
    TransactionCode("SB", "SubscribePresence-Request", _C, True),
    TransactionCode("UP", "UpdatePresence-Request", _C, True),
    TransactionCode("GB", "GetBlockedList-Request", _C, True),
    TransactionCode("CA", "CreateAttributeList-Request", _C, True),
    TransactionCode("ST", "Status", _B, True),
    TransactionCode("RL", "Login-Response", _S, True),
    TransactionCode("PC", "ClientCapability-Response", _S, True),
    TransactionCode("QS", "Service-Response", _S, True),
    TransactionCode("AK", "KeepAlive-Response", _S, True),
    TransactionCode("LG", "GetList-Response", _S, True),
    TransactionCode("ML", "ListManage-Response", _S, True),
    TransactionCode("PG", "GetPresence-Response", _S, True),
    TransactionCode("PN", "PresenceNotification-Request", _S, True),
    TransactionCode("DI", "Disconnect", _S, True),
    # NON-STANDARD: AIM has no PTS code for these (digest §5.2 "Gap", §5.5 item 4).
    TransactionCode("SM", "SendMessage-Request", _C, False, "UI MC CT DR"),
    TransactionCode("MS", "SendMessage-Response", _S, False, "ST MI"),
    TransactionCode("NM", "NewMessage", _S, False, "MI SU MC CT DT"),
    TransactionCode("MA", "MessageDelivered-Request", _C, False, "MI; answered by ST"),
    TransactionCode("DR", "DeliveryReport-Request", _S, False, "MI ST"),
    TransactionCode("BE", "BlockEntity-Request", _C, False, "AB RB; answered by ST"),
    TransactionCode("BL", "GetBlockedList-Response", _S, False, "BL"),
)

TRANSACTIONS: MappingProxyType[str, TransactionCode] = MappingProxyType(
    {t.code: t for t in _TRANSACTIONS}
)
"""Every transaction code `imps.pts.parse` accepts, by its upper-case two letters."""


@dataclass(frozen=True, slots=True)
class ElementCode:
    """One parameter code (the `XX` of `XX=value`) and the CSP element it carries."""

    code: str
    element: str
    standard: bool = True  # False: our own code (NON-STANDARD)
    note: str = ""


_ELEMENTS = (
    # AIM PtsCodes.java sElementToCode / sCodeToElement. One code may name two elements
    # depending on the primitive (CL ContactList / CreateList, DL DefaultList /
    # DefaultContactList, CP ContactListProperties): the transaction decides.
    ElementCode("SI", "SessionID"),
    ElementCode("ST", "Result", note="ST=<code> or ST=(<code>,<description>)"),
    ElementCode("CI", "ClientID", note="a URL or an MSISDN"),
    ElementCode("UI", "UserID", note="one id or a list"),
    ElementCode("PW", "Password"),
    ElementCode("SH", "DigestSchema"),
    ElementCode("DB", "DigestBytes"),
    ElementCode("NO", "Nonce"),
    ElementCode("SC", "SessionCookie"),
    ElementCode("TL", "TimeToLive"),
    ElementCode("KA", "KeepAliveTime"),
    ElementCode("CA", "CapabilityList"),
    ElementCode("AP", "AgreedCapabilityList"),
    ElementCode("CR", "CapabilityRequest"),
    ElementCode("RF", "Functions", note="the service tree requested"),
    ElementCode("AR", "AllFunctionsRequest"),
    ElementCode("AF", "AllFunctions"),
    ElementCode("NF", "NotAvailableFunctions"),
    ElementCode("CL", "ContactList"),
    ElementCode("DL", "DefaultList"),
    ElementCode("DC", "DefaultContactList"),
    ElementCode("UN", "NickList", note="((<nick>,<user>),...); an empty nick is written (,user)"),
    ElementCode("AN", "AddNickList"),
    ElementCode("RN", "RemoveNickList"),
    ElementCode("CP", "ContactListProperties", note="((DN,<name>),(DE,T|F))"),
    ElementCode("RL", "ReceiveList"),
    ElementCode("PS", "PresenceSubList"),
    ElementCode("UV", "PresenceSubList", note="inside UpdatePresence-Request"),
    ElementCode("AS", "AutoSubscribe"),
    ElementCode("PR", "Presence", note="(<user>,<PresenceSubList>) or ((u1,...),(u2,...))"),
    # NON-STANDARD: the elements of our messaging and blocking primitives.
    ElementCode("MC", "MessageContent", False),
    ElementCode("CT", "ContentType", False, "e.g. text/plain; charset=utf-8"),
    ElementCode("DR", "DeliveryReport", False, "T or F: a delivery report wanted"),
    ElementCode("MI", "MessageID", False),
    ElementCode("SU", "Sender", False, "the sending user id or MSISDN"),
    ElementCode("DT", "DateTime", False, "UTC, YYYYMMDDTHHMMSSZ"),
    ElementCode("AB", "AddBlockList", False),
    ElementCode("RB", "RemoveBlockList", False),
    ElementCode("BL", "BlockList", False),
)

ELEMENTS: MappingProxyType[str, ElementCode] = MappingProxyType({e.code: e for e in _ELEMENTS})
"""Parameter codes by their two letters. `imps.pts` does not restrict names to this table: a
primitive's meaning, hence which parameters it needs, is the service's business."""

# AIM PtsCodes.java: capability names and values (inside CA / AP), the service tree (RF, AF,
# NF), presence attributes and their values (inside PS / UV / PR).
CAPABILITIES = MappingProxyType(
    {
        "CT": "ClientType",
        "CI": "CIRHTTPAddress",
        "DL": "DefaultLanguage",
        "ID": "InitialDeliveryMethod",
        "MT": "MultiTrans",
        "PS": "ParserSize",
        "PM": "ServerPollMin",
        "SB": "SupportedBearer",
        "SC": "SupportedCIRMethod",
        "TA": "TCPAddress",
        "TP": "TCPPort",
        "UP": "UDPPort",
    }
)
CAPABILITY_VALUES = MappingProxyType(
    {
        "SS": "SSMS",
        "ST": "STCP",
        "SU": "SUDP",
        "WS": "WAPSMS",
        "WU": "WAPUDP",
        "MP": "MOBILE_PHONE",
        "CO": "COMPUTER",
        "PD": "PDA",
        "CL": "CLI",
        "OT": "OTHER",
    }
)
SERVICE_TREE = MappingProxyType(
    {
        "WV": "WVCSPFeat",
        "FF": "FundamentalFeat",
        "PF": "PresenceFeat",
        "IF": "IMFeat",
        "GE": "GroupFeat",
    }
)
PRESENCE_ATTRIBUTES = MappingProxyType(
    {
        "OS": "OnlineStatus",
        "UA": "UserAvailability",
        "ST": "StatusText",
        "SC": "StatusContent",
        "CF": "ClientInfo",
        "CT": "ClientType",
        "CP": "ClientProducer",
        "CV": "ClientVersion",
        "RC": "ReferredContent",
        "CY": "ContentType",
    }
)
PRESENCE_VALUES = MappingProxyType(
    {
        "AV": "AVAILABLE",
        "DI": "DISCREET",
        "NA": "NOT_AVAILABLE",
        "MP": "MOBILE_PHONE",
        "CO": "COMPUTER",
        "PD": "PDA",
        "CL": "CLI",
        "OT": "OTHER",
    }
)

TRUE = "T"  # AIM ImpsConstants.TRUE / FALSE: booleans on the wire
FALSE = "F"


class Status(enum.IntEnum):
    """CSP status codes (the `ST` element). Numbers and names from AIM `ImpsErrorInfo.java`
    and `ImpsConstants.java`; 200/201 from the CSP itself. `description` is the text an
    `ST=(<code>,<description>)` may carry."""

    description: str

    def __new__(cls, value: int, description: str) -> Status:
        member = int.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    SUCCESSFUL = 200, "Successful"
    PARTIALLY_SUCCESSFUL = 201, "Partially successful"
    BAD_REQUEST = 400, "Bad request"
    UNAUTHORIZED = 401, "Unauthorized"
    BAD_PARAMETER = 402, "Bad parameter"
    FORBIDDEN = 403, "Forbidden"
    NOT_FOUND = 404, "Not found"
    SERVICE_NOT_SUPPORTED = 405, "Service not supported"
    REQUEST_TIMEOUT = 408, "Request timeout"
    INVALID_PASSWORD = 409, "Invalid password"
    UNABLE_TO_DELIVER = 410, "Unable to deliver"
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported media type"
    INVALID_TRANSACTION_ID = 420, "Invalid transaction-ID"
    USERID_AND_CLIENTID_DO_NOT_MATCH = 422, "UserID and ClientID do not match"
    INVALID_MESSAGE_ID = 426, "Invalid message-ID"
    RESPONSE_TOO_LARGE = 432, "Response too large"
    INTERNAL_SERVER_ERROR = 500, "Internal server or network error"
    NOT_IMPLEMENTED = 501, "Not implemented"
    COULD_NOT_RECOVER_SESSION = 502, "Could not recover session"
    SERVICE_UNAVAILABLE = 503, "Service unavailable"
    TIMEOUT = 504, "Timeout"
    VERSION_NOT_SUPPORTED = 505, "Version not supported"
    SERVICE_NOT_AGREED = 506, "Service not agreed"
    MESSAGE_QUEUE_FULL = 507, "Message queue full"
    DOMAIN_NOT_SUPPORTED = 516, "Domain not supported"
    UNKNOWN_USER = 531, "Unknown user"
    RECIPIENT_BLOCKED_SENDER = 532, "Recipient blocked the sender"
    RECIPIENT_NOT_LOGGED_IN = 533, "Message recipient not logged in"
    RECIPIENT_UNAUTHORIZED = 534, "Message recipient unauthorized"
    MESSAGE_REJECTED = 538, "Message rejected"
    MESSAGE_EXPIRED = 542, "Message expired"
    NO_MATCHING_DIGEST_SCHEME = 543, "No matching digest scheme supported"
    SESSION_EXPIRED = 600, "Session expired"
    FORCED_LOGOUT = 601, "Forced logout"
    ALREADY_LOGGED_IN = 603, "Already logged in"
    INVALID_SESSION = 604, "Invalid session / not logged in"
    NEW_VALUE_NOT_ACCEPTED = 605, "New value not accepted"
    CONTACT_LIST_DOES_NOT_EXIST = 700, "Contact list does not exist"
    CONTACT_LIST_ALREADY_EXISTS = 701, "Contact list already exists"
    INVALID_USER_PROPERTIES = 702, "Invalid or unsupported user properties"
    INVALID_PRESENCE_ATTRIBUTE = 750, "Invalid or unsupported presence attribute"
    INVALID_PRESENCE_VALUE = 751, "Invalid or unsupported presence value"
    INVALID_CONTACT_LIST_PROPERTY = 752, "Invalid or unsupported contact list property"
    MAX_CONTACT_LISTS_REACHED = 753, "The maximum number of contact lists has been reached"
    MAX_CONTACTS_REACHED = 754, "The maximum number of contacts has been reached"
    AUTO_SUBSCRIPTION_NOT_SUPPORTED = 760, "Automatic subscription not supported"
    MULTIPLE_ERRORS = 900, "Multiple errors"
    GENERAL_ADDRESS_ERROR = 901, "General address error"
    MSISDN_ERROR = 920, "MSISDN error"


_DESCRIPTIONS = {int(status): status.description for status in Status}


def describe(status: int) -> str:
    """The description of a CSP status code ("unknown status" for a code not in `Status`)."""
    return _DESCRIPTIONS.get(int(status), "unknown status")
