"""Builds the simulated HLR side of the network (subscribers, portability, HLR, lookups) from
the `[network]` configuration section.

What this is for: one call for the app's wiring, the CLI and tests: `build_hlr(config.network)`.
It lives in app/ because it reads the configuration model, which the simulator never does. What
it is not: the MSC, handsets or the route (network/), which sit on top.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensmsc.config import NetworkConfig, NetworkMode, PrefixDefaultConfig
from opensmsc.network import (
    HlrLookup,
    HlrMode,
    Latency,
    PrefixDefault,
    SimulatedHlr,
    SubscriberState,
    SubscriberTable,
)
from opensmsc.routing import Numbering, NumberPortability, PortabilityTable

__all__ = ["HlrServices", "build_hlr", "prefix_default"]


@dataclass(frozen=True, slots=True)
class HlrServices:
    """The pieces, wired: `hlr.subscribers` is `subscribers`, `hlr.portability` wraps
    `ported`."""

    numbering: Numbering
    subscribers: SubscriberTable
    ported: PortabilityTable
    portability: NumberPortability
    hlr: SimulatedHlr
    lookup: HlrLookup


def prefix_default(config: PrefixDefaultConfig) -> PrefixDefault:
    """The PrefixDefault a `[[network.prefix_defaults]]` table describes."""
    return PrefixDefault(
        prefix=config.prefix,
        state=SubscriberState(config.state),
        home_network=config.home_network,
        msc_address=config.msc_address,
        ported_to=config.ported_to,
        serving_network=config.serving_network,
        latency=Latency.parse(config.latency),
        failure_probability=config.failure_probability,
        absent_diagnostic=config.absent_diagnostic,
    )


def build_hlr(config: NetworkConfig | None = None) -> HlrServices:
    """Everything of `[network]` loaded: the CSV files first, then the inline entries (which
    replace CSV rows of the same number). Raises NumberDataError for a bad CSV row, and
    InvalidNumber or ValueError for a bad inline entry (config.load has checked those)."""
    config = config or NetworkConfig()
    numbering = Numbering(config.default_region, config.strict_numbers)
    subscribers = SubscriberTable(
        numbering=numbering,
        defaults=[prefix_default(item) for item in config.prefix_defaults],
    )
    if config.subscribers_csv is not None:
        subscribers.load_csv(config.subscribers_csv)
    for item in config.subscribers:
        subscribers.add(
            item.msisdn,
            imsi=item.imsi,
            home_network=item.home_network,
            msc_address=item.msc_address,
            state=item.state,
            ported_to=item.ported_to,
            serving_network=item.serving_network,
            latency=item.latency,
            failure_probability=item.failure_probability,
            absent_diagnostic=item.absent_diagnostic,
            replace=True,
        )
    ported = PortabilityTable(numbering=numbering)
    if config.portability_csv is not None:
        ported.load_csv(config.portability_csv)
    for entry in config.ported:
        ported.put(entry.msisdn, entry.recipient_network, entry.routing_number)
    portability = NumberPortability(ported, cache_size=config.portability_cache_size)
    hlr = SimulatedHlr(
        subscribers,
        portability=portability,
        mode=HlrMode.REALISTIC if config.mode is NetworkMode.REALISTIC else HlrMode.DETERMINISTIC,
        seed=config.seed,
        max_service_centres=config.max_service_centres,
    )
    return HlrServices(
        numbering=numbering,
        subscribers=subscribers,
        ported=ported,
        portability=portability,
        hlr=hlr,
        lookup=HlrLookup(hlr, mask_imsi=config.mask_imsi),
    )
