"""One place that turns whatever URL a provider's dashboard gives into what asyncpg takes.

asyncpg accepts no libpq query options (``sslmode=require`` raises ``TypeError`` deep in
the driver), and transaction poolers break its prepared-statement caches. Both are handled
here, as data: ``PROVIDERS`` holds the per-provider defaults, ``_QUERY_OPTIONS`` says what
becomes of each libpq option, ``_POOLER_RULES`` recognises transaction poolers by URL
(``db/pooler.py`` recognises the others by the errors they cause).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

ProviderName = Literal["local", "docker", "neon", "supabase", "railway"]
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


@dataclass(frozen=True)
class Provider:
    """What differs between providers, as data."""

    name: ProviderName
    # sslmode used when the URL has none (None: asyncpg's default, "prefer").
    default_sslmode: SslMode | None
    # Where the dashboard shows the URL, for error messages and docs.
    url_hint: str


PROVIDERS: Mapping[ProviderName, Provider] = {
    p.name: p
    for p in (
        Provider("local", None, "postgresql://user:password@localhost:5432/dbname"),
        Provider("docker", None, "postgresql://postgres:password@db:5432/postgres"),
        Provider(
            "neon",
            "require",
            "Neon console > Connect: postgresql://user:password@ep-x-123.region.aws.neon.tech"
            "/neondb?sslmode=require&channel_binding=require",
        ),
        Provider(
            "supabase",
            "require",
            "Supabase > Connect: postgresql://postgres.ref:password@aws-0-region"
            ".pooler.supabase.com:6543/postgres",
        ),
        Provider(
            "railway",
            "require",
            "Railway > Variables: DATABASE_URL=postgresql://postgres:password@host:port/railway",
        ),
    )
}

# Transaction poolers, recognised by URL: (description, predicate).
_POOLER_RULES: tuple[tuple[str, Callable[[URL], bool]], ...] = (
    ("Neon pooled host (-pooler)", lambda u: "-pooler." in (u.host or "")),
    ("Supabase transaction pooler (port 6543)", lambda u: u.port == 6543),
    ("PgBouncer's default port (6432)", lambda u: u.port == 6432),
)

# asyncpg's arguments for a transaction pooler: no named prepared statements to clash.
NO_STATEMENT_CACHE = {"statement_cache_size": 0, "prepared_statement_cache_size": 0}

# Startup parameters a transaction pooler passes through; anything else is rejected.
POOLER_SAFE_SERVER_SETTINGS = frozenset({"application_name", "timezone"})

_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg"}
_SSL_MODES: frozenset[str] = frozenset(SslMode.__args__)  # type: ignore[attr-defined]
# Up to the last "@": an unencoded "@" in the password must not leave half of it showing.
_PASSWORD = re.compile(r"(://[^:/@]*:)(.*)@")
ENCODE_HINT = (
    "@ : / ? # in the user name or password must be percent-encoded "
    "(@ as %40, : as %3A, / as %2F, ? as %3F, # as %23)"
)


class DatabaseUrlError(ValueError):
    """A URL that cannot be used; the message names the variable and masks the password."""


@dataclass(frozen=True)
class DatabaseTarget:
    """A normalised database URL plus the asyncpg arguments it implies."""

    url: URL
    connect_args: dict[str, Any] = field(default_factory=dict)
    transaction_pooler: bool = False
    pooler_reason: str | None = None
    variable: str = "DATABASE_URL"  # where the URL came from, for messages
    libpq_query: Mapping[str, str] = field(default_factory=dict)  # see libpq_url()

    @property
    def masked(self) -> str:
        """The URL with the password replaced by ``***``: safe for logs and messages."""
        return self.url.render_as_string(hide_password=True)

    def libpq_url(self, *, password: bool = False) -> URL:
        """The same database for libpq (``psql``, ``pg_dump``): ``postgresql://``, the URL's
        options by their libpq names, and the TLS the app uses (the provider's ``sslmode``
        when the URL has none, ``DB_SSL_ROOT_CERT``). Without ``password``, none at all:
        libpq then asks for it, or takes ``PGPASSWORD`` or ``~/.pgpass``."""
        url = self.url
        return URL.create(
            "postgresql",
            url.username,
            url.password if password else None,
            url.host,
            url.port,
            url.database,
            self.libpq_query,
        )


def mask_password(raw: str) -> str:
    """Mask the password in a URL string that may not even parse."""
    return _PASSWORD.sub(r"\1***@", raw)


def resolve(
    raw: str,
    *,
    variable: str,
    provider: Provider,
    transaction_pooler: bool | None = None,
    ssl_root_cert: Path | None = None,
    connect_timeout: float = 5.0,
    command_timeout: float = 30.0,
) -> DatabaseTarget:
    """Normalise ``raw`` (the value of ``variable``) for asyncpg.

    Accepts ``postgres://``, ``postgresql://`` and ``postgresql+asyncpg://``; translates
    libpq options (``sslmode``, ``sslrootcert``, ``connect_timeout``, ``application_name``,
    ``options``), drops client-only ones (``channel_binding``) and refuses the rest.
    """

    def fail(reason: str) -> DatabaseUrlError:
        return DatabaseUrlError(f"{variable} is not usable: {reason} (got {mask_password(raw)})")

    try:
        url = make_url(raw.strip())
    except ArgumentError:
        # Not echoed: without URL structure there is no telling which part is the password.
        message = f"{variable} is not usable: not a URL; expected {provider.url_hint}"
        raise DatabaseUrlError(message) from None
    except ValueError:  # int() of what follows the last ":" of the host part
        raise fail(f"the port is not a number; {ENCODE_HINT}") from None
    if "@" in (url.host or ""):
        raise fail(f"the host name has an '@' in it; {ENCODE_HINT}")
    if url.drivername not in _SCHEMES:
        raise fail(f"scheme {url.drivername!r} is not PostgreSQL; use postgresql://")
    if url.port is not None and not 0 < url.port < 65536:
        raise fail(f"port {url.port} is out of range")

    options = _Options(
        connect_args={"timeout": connect_timeout, "command_timeout": command_timeout},
        sslmode=provider.default_sslmode,
        root_cert=ssl_root_cert,
    )
    for key, values in url.query.items():
        handler = _QUERY_OPTIONS.get(key)
        if handler is None:
            raise fail(
                f"query option {key!r} is not supported; supported: {', '.join(_QUERY_OPTIONS)}"
            )
        handler(options, values if isinstance(values, str) else values[-1], fail)

    if options.sslmode is not None:
        if options.sslmode not in _SSL_MODES:
            expected = ", ".join(sorted(_SSL_MODES))
            raise fail(f"sslmode={options.sslmode!r}; expected one of {expected}")
        options.connect_args["ssl"] = _ssl_argument(options.sslmode, options.root_cert, fail)

    libpq_query = _libpq_query(url, options)
    url = url.set(drivername="postgresql+asyncpg", query=options.keep)
    reason = _pooler_reason(url) if transaction_pooler is None else None
    pooled = transaction_pooler if transaction_pooler is not None else reason is not None
    if pooled:
        # A transaction pooler hands each transaction to any server connection: prepared
        # statements cached on one connection are missing (or clash) on the next.
        options.connect_args.update(NO_STATEMENT_CACHE)
        rejected = set(options.server_settings) - POOLER_SAFE_SERVER_SETTINGS
        if rejected:
            raise fail(
                f"a transaction pooler rejects startup parameters {sorted(rejected)}; "
                "set them per role instead (ALTER ROLE ... SET ...)"
            )
    if options.server_settings:
        options.connect_args["server_settings"] = options.server_settings
    return DatabaseTarget(
        url, options.connect_args, pooled, reason if pooled else None, variable, libpq_query
    )


@dataclass
class _Options:
    """What the query options of one URL add up to."""

    connect_args: dict[str, Any]
    sslmode: str | None
    root_cert: Path | None
    server_settings: dict[str, str] = field(default_factory=dict)
    keep: dict[str, str] = field(default_factory=dict)  # left in the URL for the dialect


Fail = Callable[[str], DatabaseUrlError]


def _sslmode(o: _Options, value: str, _fail: Fail) -> None:
    o.sslmode = value


def _sslrootcert(o: _Options, value: str, _fail: Fail) -> None:
    o.root_cert = Path(value)


def _connect_timeout(o: _Options, value: str, fail: Fail) -> None:
    try:
        o.connect_args["timeout"] = float(value)
    except ValueError:
        raise fail(f"connect_timeout={value!r} is not a number") from None


def _application_name(o: _Options, value: str, _fail: Fail) -> None:
    o.server_settings["application_name"] = value


def _options(o: _Options, value: str, fail: Fail) -> None:
    o.server_settings.update(_parse_options(value, fail))


def _drop(_o: _Options, _value: str, _fail: Fail) -> None:
    """libpq-only (channel_binding): asyncpg negotiates SCRAM channel binding itself."""


def _keep(name: str) -> Callable[[_Options, str, Fail], None]:
    def keep(o: _Options, value: str, _fail: Fail) -> None:
        o.keep[name] = value

    return keep


# libpq query option -> what it becomes for asyncpg. Anything not listed is refused.
_QUERY_OPTIONS: Mapping[str, Callable[[_Options, str, Fail], None]] = {
    "sslmode": _sslmode,
    "sslrootcert": _sslrootcert,
    "connect_timeout": _connect_timeout,
    "application_name": _application_name,
    "options": _options,
    "channel_binding": _drop,
    "host": _keep("host"),  # a unix-socket directory; SQLAlchemy's dialect takes it
    "target_session_attrs": _keep("target_session_attrs"),
}


def _libpq_query(url: URL, options: _Options) -> dict[str, str]:
    """The URL's options as libpq takes them, with the TLS settings the app ends up using."""
    query = {key: v if isinstance(v, str) else v[-1] for key, v in url.query.items()}
    socket = not url.host and "host" in query  # libpq ignores sslmode on a unix socket
    if options.sslmode is not None and not socket:
        query["sslmode"] = options.sslmode
    if options.root_cert is not None:
        query["sslrootcert"] = str(options.root_cert)
    return query


def _pooler_reason(url: URL) -> str | None:
    return next((why for why, matches in _POOLER_RULES if matches(url)), None)


def _parse_options(value: str, fail: Fail) -> dict[str, str]:
    """libpq ``options=-c key=value -c ...`` becomes server settings."""
    settings: dict[str, str] = {}
    words = value.split()
    while words:
        word = words.pop(0)
        if word == "-c" and words:
            word = words.pop(0)
        elif word.startswith("-c"):
            word = word[2:]
        else:
            raise fail(f"options={value!r}: only '-c name=value' is supported")
        name, sep, setting = word.partition("=")
        if not sep:
            raise fail(f"options={value!r}: expected name=value after -c")
        settings[name] = setting
    return settings


def _ssl_argument(sslmode: str, root_cert: Path | None, fail: Fail) -> bool | str | ssl.SSLContext:
    """asyncpg's ``ssl=`` for a libpq sslmode."""
    if sslmode == "disable":
        return False
    if sslmode in {"allow", "prefer", "require"}:
        return sslmode  # encrypted (if possible), not verified, like libpq
    if root_cert is not None and not root_cert.is_file():
        raise fail(f"the CA file {root_cert} does not exist")
    # verify-ca / verify-full: the given CA file, or the system trust store.
    context = ssl.create_default_context(cafile=str(root_cert) if root_cert else None)
    context.check_hostname = sslmode == "verify-full"
    return context
