"""The API's JSON documents, as pydantic models: what a client may send (unknown fields refused,
types strict: `"2"` is not a priority) and what it gets back. They are the OpenAPI document.

Syntax only: whether a number is a number and a text fits are the routes' and the engine's
questions (http/api/convert.py, engine/submission.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, model_validator

__all__ = [
    "BatchAccepted",
    "BatchRequest",
    "MessageAccepted",
    "MessagePage",
    "MessageRequest",
    "MessageStatus",
]

Encoding = Literal["auto", "gsm7", "ucs2", "latin1", "ia5", "binary"]
Receipt = Literal["none", "final", "failure", "all"]

# 255 parts of 153 GSM characters; longer is refused without encoding it.
_MAX_TEXT = 39_015
_MAX_BINARY_HEX = 2 * 255 * 140


Destination = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        description='the destination, E.164: "+447700900123" or "447700900123"',
        examples=["+447700900123"],
    ),
]


class MessageFields(BaseModel):
    """Everything of a message but its destination."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    from_: Annotated[
        str,
        Field(
            alias="from",
            min_length=1,
            max_length=21,
            description="the sender: an E.164 number, a short code of up to 8 digits, or an "
            "alphanumeric name of up to 11 characters",
            examples=["Example"],
        ),
    ]
    text: Annotated[str | None, Field(max_length=_MAX_TEXT, description="the message text")] = None
    binary: Annotated[
        str | None,
        Field(
            max_length=_MAX_BINARY_HEX,
            pattern=r"^([0-9A-Fa-f]{2})*$",
            description="8-bit data, in hex, instead of text",
        ),
    ] = None
    encoding: Annotated[
        Encoding,
        Field(description="the alphabet; auto: the cheapest that fits, as `opensmsc encode`"),
    ] = "auto"
    validity: Annotated[
        int | None,
        Field(
            strict=True,
            ge=1,
            le=31_536_000,
            description="seconds the message may wait for delivery (default: the account's; "
            "capped by its max_validity)",
        ),
    ] = None
    scheduled_at: Annotated[
        AwareDatetime | None,
        Field(description="deliver no earlier than this time (RFC 3339, with its offset)"),
    ] = None
    priority: Annotated[int, Field(strict=True, ge=0, le=3, description="0 to 3, 3 first")] = 0
    receipt: Annotated[
        Receipt,
        Field(description="delivery reports wanted: none, final, failure (only), all"),
    ] = "none"
    callback_url: Annotated[
        str | None,
        Field(
            max_length=2048,
            pattern=r"^https?://[^\s]+$",
            description="where this message's delivery reports are POSTed (http or https)",
        ),
    ] = None
    client_reference: Annotated[
        str | None,
        Field(max_length=64, description="the client's own reference, returned with the message"),
    ] = None
    port: Annotated[
        int | None,
        Field(
            strict=True,
            ge=0,
            le=65535,
            description="application port (16-bit port addressing UDH, TS 23.040 §9.2.3.24.4)",
        ),
    ] = None
    flash: Annotated[StrictBool, Field(description="a class 0 (flash) message")] = False

    @model_validator(mode="after")
    def _one_content(self) -> MessageFields:
        if (self.text is None) == (self.binary is None):
            raise ValueError("give exactly one of text and binary")
        if self.binary is not None and self.encoding not in ("auto", "binary"):
            raise ValueError("binary content takes encoding auto or binary")
        if self.text is not None and self.encoding == "binary":
            raise ValueError("encoding binary takes binary content, in hex")
        return self


class MessageRequest(MessageFields):
    """One message: `text` or `binary` (hex), to `to` from `from`."""

    to: Destination


class BatchRequest(BaseModel):
    """Many messages in one request, stored in one transaction: either `messages`, each a
    whole message, or one `message` (without `to`) to every number of `to`."""

    model_config = ConfigDict(extra="forbid")

    messages: Annotated[list[MessageRequest] | None, Field(min_length=1, max_length=10_000)] = None
    to: Annotated[list[Destination] | None, Field(min_length=1, max_length=10_000)] = None
    message: MessageFields | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> BatchRequest:
        if self.messages is not None and (self.to is not None or self.message is not None):
            raise ValueError("give either messages, or to and message")
        if self.messages is None and (self.to is None or self.message is None):
            raise ValueError("give messages, or both to and message")
        return self


class MessageAccepted(BaseModel):
    """A message durably stored: the ids of its parts, in order (one id for a message that fits
    one SMS), and how it was encoded."""

    id: Annotated[str, Field(description="the message's id: its first part's")]
    ids: Annotated[list[str], Field(description="every part's id, in order")]
    parts: int
    encoding: Annotated[str, Field(description="gsm7, ucs2, latin1, ia5 or binary")]
    data_coding: Annotated[int, Field(description="the SMPP data_coding of the parts")]
    submitted_at: datetime
    client_reference: str | None = None


class BatchAccepted(BaseModel):
    """Every message of a batch, stored, in the order given."""

    count: int
    messages: list[MessageAccepted]


State = Literal[
    "scheduled", "enroute", "delivered", "expired", "deleted", "undeliverable", "accepted",
    "unknown", "rejected", "skipped",
]  # fmt: skip


class MessageError(BaseModel):
    """Why the last attempt failed: an SMPP command_status from an upstream SMSC, or a MAP
    error from the mobile network."""

    kind: Annotated[Literal["smpp", "map"], Field(description="which code space `code` is in")]
    code: int
    name: Annotated[str | None, Field(description="e.g. ESME_RINVDSTADR or absentSubscriber")]


class MessagePart(BaseModel):
    group: Annotated[str, Field(description="the long message's group id, shared by its parts")]
    seq: int
    total: int


class MessageStatus(BaseModel):
    """One stored message (one part of a long message) as the API shows it."""

    id: str
    state: State
    to: str
    from_: Annotated[str, Field(alias="from")]
    submitted_at: datetime
    scheduled_at: datetime
    expires_at: datetime
    done_at: datetime | None
    attempts: int
    route: str | None
    part: MessagePart | None
    data_coding: int
    priority: int
    registered_delivery: int
    client_reference: str | None
    callback_url: str | None
    error: MessageError | None

    model_config = ConfigDict(populate_by_name=True)


class MessagePage(BaseModel):
    """A page of messages, oldest first; `next` is the cursor of the next page (None: last)."""

    messages: list[MessageStatus]
    next: str | None
