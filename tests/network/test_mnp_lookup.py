"""Number portability (table, cache, NP TLVs), the HLR lookup service and `[network]` config."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from opensmsc.app import build_hlr
from opensmsc.config import load
from opensmsc.config.model import NetworkConfig, PortedNumberConfig, SubscriberConfig
from opensmsc.errors import ConfigError
from opensmsc.network import (
    HlrLookup,
    MapError,
    PrefixDefault,
    RoutingInfo,
    SimulatedHlr,
    SubscriberTable,
    mask_imsi,
)
from opensmsc.routing import (
    NpResolution,
    NumberDataError,
    Numbering,
    NumberPortability,
    PortabilityResult,
    PortabilityTable,
    np_tlvs,
)
from opensmsc.smpp import Tag
from opensmsc.smpp.tlv import Tlvs, encode_tlvs

GB = Numbering("GB")

# -- portability --------------------------------------------------------------------------------


def test_table_put_get_remove() -> None:
    ported = PortabilityTable(numbering=GB)
    ported.put("07700 900123", "23410", "4410")
    record = ported.get("+447700900123")
    assert record is not None
    assert (record.msisdn, record.recipient_network, record.routing_number) == (
        447700900123,
        "23410",
        "4410",
    )
    assert len(ported) == 1 and list(ported) == [record]
    assert ported.remove("447700900123") and not ported.remove("447700900123")
    assert ported.get("447700900123") is None
    with pytest.raises(ValueError, match="routing_number"):
        ported.put("447700900123", "23410", "12345678901")
    with pytest.raises(ValueError, match="MCC-MNC"):
        ported.put("447700900123", "234")


def test_lookups_are_cached_and_bounded() -> None:
    ported = PortabilityTable(numbering=GB)
    ported.put("447700900001", "23410")
    mnp = NumberPortability(ported, cache_size=2)
    first = mnp.lookup("447700900001")
    assert first.ported and first.recipient_network == "23410"
    assert mnp.lookup("+447700900001") == first
    assert (mnp.hits, mnp.misses) == (1, 1)
    assert mnp.lookup("447700900002").resolution is NpResolution.NOT_PORTED
    mnp.lookup("447700900003")
    assert mnp.cached == 2  # the oldest answer was evicted
    mnp.lookup("447700900001")
    assert mnp.misses == 4


def test_a_table_change_empties_the_cache() -> None:
    ported = PortabilityTable(numbering=GB)
    mnp = NumberPortability(ported)
    assert not mnp.lookup("447700900001").ported
    ported.put("447700900001", "23420")
    assert mnp.lookup("447700900001").recipient_network == "23420"
    ported.remove("447700900001")
    assert not mnp.lookup("447700900001").ported


def test_np_tlvs() -> None:
    resolution, information, country = (
        int(Tag.DEST_ADDR_NP_RESOLUTION),
        int(Tag.DEST_ADDR_NP_INFORMATION),
        int(Tag.DEST_ADDR_NP_COUNTRY),
    )
    assert np_tlvs(None) == Tlvs(((resolution, 0),))
    not_ported = np_tlvs(PortabilityResult(447700900001, NpResolution.NOT_PORTED))
    assert not_ported == Tlvs(((resolution, 1), (country, 44)))
    ported = np_tlvs(PortabilityResult(447700900001, NpResolution.PORTED, "23410", "4410"))
    assert ported.get(resolution) == 2
    assert ported.get(information) == b"4410" + bytes(6)
    assert ported.get(country) == 44
    # On the wire: np_information is 10 octets, np_country an Integer of 5 octets.
    assert encode_tlvs(ported) == bytes.fromhex(
        "0611 0001 020612 000a 343431300000000000000613 0005 000000002c"
    )
    no_routing_number = np_tlvs(PortabilityResult(12025550123, NpResolution.PORTED, "310150"))
    assert not no_routing_number.has(information)
    assert no_routing_number.get(country) == 1


def test_portability_csv(tmp_path: Path) -> None:
    path = tmp_path / "ported.csv"
    path.write_text("msisdn,recipient_network,routing_number\n+447700900001,23410,4410\n")
    ported = PortabilityTable(numbering=GB)
    assert ported.load_csv(path) == 1
    assert ported.get("447700900001") is not None
    path.write_text("msisdn,recipient_network\n+447700900001,23410\n447700900002,99\n")
    with pytest.raises(NumberDataError, match="MCC-MNC") as caught:
        ported.load_csv(path)
    assert (caught.value.line, caught.value.key) == (3, "recipient_network")
    path.write_text("msisdn,network\n")
    with pytest.raises(NumberDataError, match="unknown column"):
        ported.load_csv(path)


# -- the lookup service -------------------------------------------------------------------------


def make_lookup(**kwargs: object) -> HlrLookup:
    subs = SubscriberTable(
        numbering=GB, defaults=[PrefixDefault(prefix="44", home_network="23415")]
    )
    ported = PortabilityTable(numbering=GB)
    ported.put("447700900002", "23410", "4410")
    hlr = SimulatedHlr(subs, portability=NumberPortability(ported))
    subs.add("447700900003", state="absent")
    subs.add("447700900004", state="unknown")
    subs.add("447700900005", serving_network="20801")
    return HlrLookup(hlr, **kwargs)  # type: ignore[arg-type]


def test_lookup_reachable() -> None:
    result = make_lookup().lookup("07700 900001")
    assert result.msisdn == "+447700900001"
    assert result.valid and result.reachable and not result.ported and not result.roaming
    assert (result.mcc_mnc, result.home_mcc_mnc, result.state) == ("23415", "23415", "attached")
    assert result.imsi == "23415**********"
    assert result.error is None


def test_lookup_ported() -> None:
    result = make_lookup(mask_imsi=False).lookup("+447700900002")
    assert result.ported and result.ported_to == "23410" and result.routing_number == "4410"
    assert (result.mcc_mnc, result.home_mcc_mnc) == ("23410", "23415")
    assert result.imsi is not None and result.imsi.startswith("23410") and "*" not in result.imsi


def test_lookup_absent_unknown_roaming_invalid() -> None:
    service = make_lookup()
    absent = service.lookup("447700900003")
    assert absent.valid and not absent.reachable
    assert (absent.error, absent.error_code) == ("absentSubscriberSM", 6)
    unknown = service.lookup("447700900004")
    assert not unknown.valid and not unknown.reachable and unknown.error == "unknownSubscriber"
    roaming = service.lookup("447700900005")
    assert roaming.roaming and roaming.serving_mcc_mnc == "20801"
    invalid = service.lookup("44abc")
    assert (invalid.valid, invalid.msisdn, invalid.error) == (False, "44abc", "not digits")
    assert set(invalid.as_dict()) >= {"msisdn", "valid", "reachable", "mcc_mnc", "ported"}


def test_lookup_sends_nothing_and_consumes_no_injection() -> None:
    service = make_lookup()
    service.hlr.inject("447700900001", MapError(34))
    assert service.lookup("447700900001").error == "systemFailure"
    assert service.lookup("447700900001").error == "systemFailure"
    assert service.hlr.send_routing_info_for_sm("447700900001") == MapError(34)
    assert isinstance(service.hlr.send_routing_info_for_sm("447700900001"), RoutingInfo)
    assert service.hlr.message_waiting("447700900003") is None


def test_mask_imsi() -> None:
    assert mask_imsi("234150000000001") == "23415**********"


# -- configuration ------------------------------------------------------------------------------


def test_config_builds_the_hlr(tmp_path: Path) -> None:
    (tmp_path / "subs.csv").write_text("msisdn,state\n07700900001,absent\n07700900002,busy\n")
    (tmp_path / "ported.csv").write_text("msisdn,recipient_network\n07700900009,23410\n")
    path = tmp_path / "opensmsc.toml"
    path.write_text(
        dedent(
            """
            [network]
            mode = "realistic"
            seed = 42
            default_region = "GB"
            subscribers_csv = "subs.csv"
            portability_csv = "ported.csv"
            portability_cache_size = 5
            max_service_centres = 3
            mask_imsi = false
            [[network.prefix_defaults]]
            prefix = "44"
            home_network = "23415"
            latency = "uniform:10:20"
            [[network.subscribers]]
            msisdn = "07700 900002"
            state = "barred"
            [[network.ported]]
            msisdn = "+447700900008"
            recipient_network = "23420"
            routing_number = "4420"
            """
        )
    )
    config = load(path).network
    services = build_hlr(config)
    hlr = services.hlr
    assert hlr.send_routing_info_for_sm("07700900001") == MapError(6, diagnostic=1)
    assert hlr.send_routing_info_for_sm("07700900002") == MapError(13)
    assert services.portability.lookup("447700900009").recipient_network == "23410"
    assert services.portability.lookup("447700900008").routing_number == "4420"
    assert 0.01 <= hlr.response_time("447700900001") <= 0.02
    assert services.lookup.lookup("447700900003").imsi == "234157700900003"


def test_config_default_builds_an_empty_deterministic_network() -> None:
    services = build_hlr()
    assert len(services.subscribers) == 0
    assert isinstance(services.hlr.send_routing_info_for_sm("+12025550123"), RoutingInfo)
    assert services.hlr.response_time("+12025550123") == 0.0


def test_config_problems() -> None:
    config = NetworkConfig(
        subscribers=(SubscriberConfig(msisdn="07700900001"), SubscriberConfig(msisdn="x")),
        ported=(
            PortedNumberConfig(msisdn="+447700900001", recipient_network="23410"),
            PortedNumberConfig(msisdn="447700900001", recipient_network="23410"),
        ),
    )
    messages = {(p.key, p.message.split(":")[0]) for p in config.problems()}
    assert (("subscribers", 0, "msisdn"), "'07700900001' is not a valid phone number") in messages
    assert any(key == ("subscribers", 1, "msisdn") for key, _ in messages)
    assert any(key == ("ported", 1, "msisdn") for key, _ in messages)


def test_config_errors_have_lines(tmp_path: Path) -> None:
    path = tmp_path / "opensmsc.toml"
    path.write_text('[network]\nmode = "fast"\n[[network.prefix_defaults]]\nprefix = "4x"\n')
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert "network.mode" in str(caught.value)
    path.write_text('[network]\ndefault_region = "GB"\n[[network.subscribers]]\nmsisdn = "0"\n')
    with pytest.raises(ConfigError, match=r"network\.subscribers\[0\]\.msisdn"):
        load(path)
