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
    "UdhError",
    "UnsupportedDataCoding",
    "UserDataHeader",
    "alphabet_of",
    "build_udh",
    "choose_alphabet",
    "data_coding_for",
    "decode_ia5",
    "decode_latin1",
    "decode_text",
    "decode_ucs2",
    "encode_ia5",
    "encode_latin1",
    "encode_text",
    "encode_ucs2",
    "parse_data_coding",
    "parse_udh",
    "smpp_to_tp_dcs",
    "split",
    "utf16_units",
]
