"""Message content, sans-IO: alphabets, data_coding, the UDH, segmentation and reassembly.

Knows nothing of SMPP: it works on text, bytes and ints (STYLE.md §1).
"""

from .dcs import (
    Alphabet,
    DataCodingInfo,
    MessageClass,
    MessageWaiting,
    MwiKind,
    UnsupportedDataCoding,
    alphabet_of,
    data_coding_for,
    decode_text,
    parse_data_coding,
    smpp_to_tp_dcs,
)
from .errors import EncodingError

# GSM 7-bit packing for callers outside sms (the IMPS CIR texts are packed septets in a binary SMS)
from .gsm7 import pack as pack_septets
from .gsm7 import unpack as unpack_septets
from .national import Language
from .segment import (
    ConcatMethod,
    Encoding,
    ExpiryReason,
    Incomplete,
    MessageTooLong,
    Part,
    Reassembler,
    Segmented,
    choose_alphabet,
    encode_text,
    split,
)
from .tpdu import SmsDeliver, SmsSubmit, UserData, decode_payload, read_user_data
from .ucs2 import (
    decode_ia5,
    decode_latin1,
    decode_ucs2,
    encode_ia5,
    encode_latin1,
    encode_ucs2,
    utf16_units,
)
from .udh import (
    Concat,
    Iei,
    InformationElement,
    PortAddress,
    UdhError,
    UserDataHeader,
    build_udh,
    parse_udh,
)

__all__ = [
    "Alphabet",
    "Concat",
    "ConcatMethod",
    "DataCodingInfo",
    "Encoding",
    "EncodingError",
    "ExpiryReason",
    "Iei",
    "Incomplete",
    "InformationElement",
    "Language",
    "MessageClass",
    "MessageTooLong",
    "MessageWaiting",
    "MwiKind",
    "Part",
    "PortAddress",
    "Reassembler",
    "Segmented",
    "SmsDeliver",
    "SmsSubmit",
    "UdhError",
    "UnsupportedDataCoding",
    "UserData",
    "UserDataHeader",
    "alphabet_of",
    "build_udh",
    "choose_alphabet",
    "data_coding_for",
    "decode_ia5",
    "decode_latin1",
    "decode_payload",
    "decode_text",
    "decode_ucs2",
    "encode_ia5",
    "encode_latin1",
    "encode_text",
    "encode_ucs2",
    "pack_septets",
    "parse_data_coding",
    "parse_udh",
    "read_user_data",
    "smpp_to_tp_dcs",
    "split",
    "unpack_septets",
    "utf16_units",
]
