"""`[imps]`: the IMPS service behind the SMSC (instant messaging and presence over SMS,
application port 3590; docs/imps.md) and its provisioned `[[imps.users]]`. What it is not: the
service (imps/service.py) or its wiring (app/imps.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from opensmsc.config.rules import Length, Match, Problem, Seconds, duplicates

# A CSP user id: printable, no spaces (PTS would have to quote it), no quotes or list marks.
UserId = Annotated[
    str,
    Match(
        r"[^\s\"(),=&\x00-\x1f\x7f-\x9f]{1,50}",
        'a user id of 1 to 50 characters, no spaces, control characters or "(),=&',
    ),
]
ImpsMsisdn = Annotated[
    str, Match(r"\+?[0-9]{1,15}", "an E.164 number of 1 to 15 digits, with or without +")
]
ShortCode = Annotated[str, Match(r"[0-9]{1,15}", "a short code of 1 to 15 digits")]
ImpsPassword = Annotated[str, Length(maximum=100, minimum=1)]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpsUserConfig:
    """`[[imps.users]]`: one IMPS user, the handset it logs in from and its password. The
    password is kept as written: digest login (MD5/SHA of nonce and password, AIM's
    LoginTransaction) needs it, not a hash of it."""

    user_id: UserId
    msisdn: ImpsMsisdn
    password: ImpsPassword = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpsConfig:
    """`[imps]`: off by default. On, MO to port 3590 / 3716 (and plain SMS to `short_code`)
    go to the IMPS service, whose answers come from `short_code`. `database` None: imps.sqlite3
    in node.data_dir."""

    enabled: bool = False
    short_code: ShortCode = "3590"
    keepalive: Seconds = 600.0  # the KeepAliveTime offered at login; a silent session ends
    keepalive_grace: Seconds = 60.0  # ... this long after its keep-alive time ran out
    allow_self_registration: bool = False  # a login from an unknown user id creates it
    reassembly_timeout: Seconds = 120.0  # a PTS primitive's segments must all come within this
    database: Path | None = None
    users: tuple[ImpsUserConfig, ...] = ()

    def problems(self) -> list[Problem]:
        found = duplicates(self.users, "user_id", ("users",))
        digits = [(index, user.msisdn.lstrip("+")) for index, user in enumerate(self.users)]
        first: dict[str, int] = {}
        for index, msisdn in digits:
            if msisdn in first:
                found.append(
                    Problem(
                        ("users", index, "msisdn"),
                        f'"{msisdn}" is already the number of imps.users[{first[msisdn]}]',
                    )
                )
            else:
                first[msisdn] = index
        return found
