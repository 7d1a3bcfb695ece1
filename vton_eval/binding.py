"""Where the dashboard may listen, and which names it answers to: beyond loopback only with sign-in configured
(or a loudly named flag); without sign-in, only at loopback names (and names the operator adds), so that a web
page which rebinds its own name to 127.0.0.1 (DNS rebinding) cannot drive the one-person dashboard."""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vton_eval.access import AccessConfigError

# Set by `vton-eval dashboard --unsafe-listen-without-sign-in`: the dashboard then shows itself beyond loopback.
UNSAFE_LISTEN_ENV = "VTON_EVAL_UNSAFE_LISTEN_WITHOUT_SIGN_IN"
# Set by `vton-eval dashboard --allow-host NAME` (comma-separated): names besides loopback's it answers to.
ALLOWED_HOSTS_ENV = "VTON_EVAL_ALLOWED_HOSTS"
LOOPBACK_NAMES = ("localhost", "*.localhost", "127.0.0.1", "::1")
# What Streamlit's sign-in needs in [auth] (its own check, made again here before anything listens).
AUTH_KEYS = ("redirect_uri", "cookie_secret")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


def is_loopback(host: str) -> bool:
    """Whether a bind address reaches this machine only (127.0.0.0/8, ::1, localhost)."""
    host = (host or "").strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def auth_problems(section: Mapping[str, Any]) -> list[str]:
    """What an `[auth]` table lacks for sign-in to work ([] when complete): `redirect_uri`, `cookie_secret`, and
    one provider (its keys at the table's top, or an `[auth.NAME]` table) with all of `PROVIDER_KEYS`."""
    problems = [f"no {key}" for key in AUTH_KEYS if not section.get(key)]
    providers = ([("the default provider", section)] if any(k in section for k in PROVIDER_KEYS) else []) + [
        (f"[auth.{name}]", value) for name, value in section.items() if isinstance(value, Mapping)]
    complete = [name for name, keys in providers if all(keys.get(k) for k in PROVIDER_KEYS)]
    if not complete:
        if providers:
            name, keys = providers[0]
            problems.append(f"{name} has no {', '.join(k for k in PROVIDER_KEYS if not keys.get(k))}")
        else:
            problems.append(f"no provider ({', '.join(PROVIDER_KEYS)})")
    return problems


def sign_in_configured(secrets_files: list[Path]) -> bool:
    """Whether these Streamlit secrets files turn sign-in on: an `[auth]` table (merged across the files as
    Streamlit merges them, the later winning). An `[auth]` that lacks what sign-in needs is an AccessConfigError:
    half a configuration must not pass for sign-in (nor be silently ignored)."""
    merged: dict[str, Any] = {}
    named: list[str] = []
    for path in secrets_files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AccessConfigError(f"the secrets file {path} cannot be read: {exc}") from None
        except RecursionError:
            raise AccessConfigError(f"the secrets file {path} cannot be read: it is nested too deeply") from None
        auth = data.get("auth")
        if isinstance(auth, Mapping) and auth:
            merged.update(auth)
            named.append(str(path))
    if not merged:
        return False
    problems = auth_problems(merged)
    if problems:
        raise AccessConfigError(f"[auth] in {' and '.join(named)} is incomplete ({'; '.join(problems)}): sign-in "
                                "cannot work. Complete it (see docs/team-access.md) or remove it.")
    return True


def allowed_hosts(extra: Iterable[str] = ()) -> list[str]:
    """The names a dashboard without sign-in answers to (Streamlit's `server.allowedHosts` form)."""
    names = list(LOOPBACK_NAMES)
    for name in extra:
        name = name.strip().strip("[]").lower().rstrip(".")
        if name and name not in names:
            names.append(name)
    return names


def host_allowed(host_header: str | None, extra: Iterable[str] = (), any_address: bool = False) -> bool:
    """Whether a request's Host header names this dashboard as a person opened it: a loopback address, localhost
    (or a subdomain of it), or a configured name. An address literal cannot be a rebinding page's own name, so
    with `any_address` (listening beyond loopback on purpose) every address is accepted. No header (a test
    harness, not a browser) is accepted."""
    if not host_header:
        return True
    try:
        parts = urlsplit(f"//{host_header.strip()}")
        hostname = (parts.hostname or "").rstrip(".")
        _ = parts.port  # a malformed port is refused
    except ValueError:
        return False
    if not hostname or parts.username is not None or parts.password is not None or parts.path:
        return False
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        address = None
    if address is not None:
        return address.is_loopback or any_address
    for pattern in allowed_hosts(extra):
        if hostname == pattern or (pattern.startswith("*.") and hostname.endswith(pattern[1:])):
            return True
    return False


def configured_hosts(text: str | None) -> list[str]:
    """The names in ALLOWED_HOSTS_ENV's value."""
    return [n.strip() for n in (text or "").split(",") if n.strip()]
