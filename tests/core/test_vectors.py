"""Byte-exact SMPP PDU vectors from public test suites, checked both ways.

Every vector in ``tests/vectors/*.toml`` (format: ``tests/vectors/README.md``) is decoded and its
header, class, fields and TLVs compared with the expectations written next to it; the decoded PDU
is then encoded again and must give the original octets (or ``encoded_hex`` where the vector says
the canonical form differs). Vectors with ``error`` must be rejected with that command_status.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from opensmsc.smpp.codec import Decoded, decode, encode
from opensmsc.smpp.constants import CommandStatus
from opensmsc.smpp.errors import FramingError, PduError
from opensmsc.smpp.pdu import Response

VECTOR_DIR = Path(__file__).resolve().parent.parent / "vectors"
HEADER_LENGTH = 16
# Fields that are not on the wire as spec fields of the body: the status lives in the header, and
# TLVs are compared separately, in wire order.
NON_BODY_FIELDS = frozenset({"command_status", "tlvs"})


@dataclass(frozen=True, slots=True)
class Vector:
    """One ``[[vector]]`` table of a vector file."""

    file: str
    name: str
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.file}:{self.name}"

    @property
    def frame(self) -> bytes:
        return bytes.fromhex(self.data["hex"])

    @property
    def is_strict(self) -> bool:
        return bool(self.data.get("strict", True))

    @property
    def is_rejected(self) -> bool:
        """Rejected in every mode: an ``error`` without ``strict = false``."""
        return "error" in self.data and self.is_strict

    @property
    def decodes(self) -> bool:
        return not self.is_rejected


def _load_vectors() -> list[Vector]:
    vectors: list[Vector] = []
    for path in sorted(VECTOR_DIR.glob("*.toml")):
        with path.open("rb") as f:
            document = tomllib.load(f)
        for data in document.get("vector", []):
            vectors.append(Vector(file=path.stem, name=data["name"], data=data))
    return vectors


VECTORS = _load_vectors()


def _params(*, decodes: bool | None = None, strict_fails: bool = False) -> list[Any]:
    chosen = [
        v
        for v in VECTORS
        if (decodes is None or v.decodes == decodes)
        and (not strict_fails or not v.is_strict or v.is_rejected)
    ]
    return [pytest.param(v, id=v.id) for v in chosen]


def _expect(actual: object, expected: object, where: str) -> None:
    """Assert that a decoded value matches its TOML expectation (see README.md, "Values")."""
    if isinstance(expected, dict):
        if "hex" in expected or "text" in expected:
            want = (
                bytes.fromhex(expected["hex"])
                if "hex" in expected
                else expected["text"].encode("latin-1")
            )
            assert isinstance(actual, bytes), f"{where}: expected bytes, got {actual!r}"
            assert actual.hex() == want.hex(), f"{where}: {actual!r} != {want!r}"
            return
        attributes = dict(expected)
        type_name = attributes.pop("type", None)
        if type_name is not None:
            assert type(actual).__name__ == type_name, (
                f"{where}: expected {type_name}, got {actual!r}"
            )
        for key, value in attributes.items():
            assert hasattr(actual, key), f"{where}: {actual!r} has no attribute {key!r}"
            _expect(getattr(actual, key), value, f"{where}.{key}")
        return
    if isinstance(expected, list):
        assert isinstance(actual, tuple | list), f"{where}: expected a sequence, got {actual!r}"
        assert len(actual) == len(expected), (
            f"{where}: {len(actual)} items, expected {len(expected)}"
        )
        for index, (item, want_item) in enumerate(zip(actual, expected, strict=True)):
            _expect(item, want_item, f"{where}[{index}]")
        return
    if isinstance(expected, bool):  # pragma: no cover - the vector format has no booleans here
        raise TypeError(f"{where}: booleans are not a vector value")
    if isinstance(expected, int):
        assert isinstance(actual, int), f"{where}: expected an int, got {actual!r}"
        assert int(actual) == expected, f"{where}: {int(actual):#x} != {expected:#x}"
        return
    assert isinstance(actual, str), f"{where}: expected a str, got {actual!r}"
    assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def _decode(vector: Vector) -> Decoded:
    return decode(vector.frame, strict=vector.is_strict)


@pytest.mark.parametrize("vector", _params(decodes=True))
def test_decode_matches_expected_fields(vector: Vector) -> None:
    data = vector.data
    decoded = _decode(vector)
    pdu = decoded.pdu

    assert type(pdu).__name__ == data["type"]
    assert decoded.command_id == data["command_id"]
    assert pdu.command_id == data["command_id"]
    assert decoded.sequence_number == data["sequence_number"]
    assert decoded.status == data["status"]
    if isinstance(pdu, Response):
        assert pdu.command_status == data["status"]

    expected_fields: dict[str, Any] = data.get("fields", {})
    body_fields = [f.name for f in dataclasses.fields(pdu) if f.name not in NON_BODY_FIELDS]
    # Spec field names, in wire order (contracts.md, smpp/pdu.py).
    assert body_fields == list(expected_fields)
    for name, expected in expected_fields.items():
        _expect(getattr(pdu, name), expected, name)

    expected_tlvs: list[dict[str, Any]] = data.get("tlvs", [])
    actual_tlvs = list(getattr(pdu, "tlvs", ()))
    assert [tag for tag, _ in actual_tlvs] == [t["tag"] for t in expected_tlvs], (
        "TLV tags in wire order"
    )
    for (tag, value), expected_tlv in zip(actual_tlvs, expected_tlvs, strict=True):
        _expect(value, expected_tlv["value"], f"tlv {tag:#06x}")


@pytest.mark.parametrize("vector", _params(decodes=True))
def test_encode_gives_original_octets(vector: Vector) -> None:
    decoded = _decode(vector)
    expected = bytes.fromhex(vector.data.get("encoded_hex", vector.data["hex"]))

    encoded = encode(decoded.pdu, decoded.sequence_number)

    assert encoded.hex() == expected.hex()
    assert decode(encoded, strict=vector.is_strict).pdu == decoded.pdu


def _assert_rejected(vector: Vector, *, strict: bool) -> None:
    data = vector.data
    error_classes: dict[str, type[Exception]] = {
        "FramingError": FramingError,
        "PduError": PduError,
    }
    expected_class: type[Exception] | tuple[type[Exception], ...]
    if "error_class" in data:
        expected_class = error_classes[data["error_class"]]
    elif vector.is_strict:
        expected_class = (FramingError, PduError)
    else:
        expected_class = PduError  # the frame is fine: only the body is at fault

    with pytest.raises(expected_class) as caught:
        decode(vector.frame, strict=strict)

    error = caught.value
    assert isinstance(error, FramingError | PduError)
    if "error" in data:
        assert error.status == CommandStatus[data["error"]]
    if isinstance(error, PduError):
        # A PduError comes from a readable header: it carries that header's values.
        frame = vector.frame
        assert error.command_id == int.from_bytes(frame[4:8], "big")
        assert error.sequence_number == int.from_bytes(frame[12:16], "big")


@pytest.mark.parametrize("vector", _params(strict_fails=True))
def test_strict_decode_rejects(vector: Vector) -> None:
    _assert_rejected(vector, strict=True)


@pytest.mark.parametrize("vector", _params(decodes=False))
def test_lenient_decode_rejects_too(vector: Vector) -> None:
    _assert_rejected(vector, strict=False)


def test_vector_files_are_well_formed() -> None:
    names = [v.id for v in VECTORS]
    assert len(names) == len(set(names)), "vector names are unique within a file"
    for vector in VECTORS:
        data = vector.data
        assert data.get("source"), f"{vector.id}: every vector cites its source"
        frame = vector.frame
        if vector.decodes:
            assert len(frame) >= HEADER_LENGTH
            assert int.from_bytes(frame[:4], "big") == len(frame), f"{vector.id}: command_length"
            assert {"type", "command_id", "sequence_number", "status"} <= data.keys()
        else:
            assert "error" in data, f"{vector.id}: a rejected vector names its command_status"
