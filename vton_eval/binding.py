"""Where the dashboard may listen: beyond loopback only with sign-in configured (or a loudly named flag)."""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from pathlib import Path

from vton_eval.access import AccessConfigError

# Set by `vton-eval dashboard --unsafe-listen-without-sign-in`: the dashboard then shows itself beyond loopback.
UNSAFE_LISTEN_ENV = "VTON_EVAL_UNSAFE_LISTEN_WITHOUT_SIGN_IN"


def is_loopback(host: str) -> bool:
    """Whether a bind address reaches this machine only (127.0.0.0/8, ::1, localhost)."""
    host = (host or "").strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sign_in_configured(secrets_files: list[Path]) -> bool:
    """Whether any of these Streamlit secrets files has an `[auth]` table (what turns sign-in on)."""
    for path in secrets_files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AccessConfigError(f"the secrets file {path} cannot be read: {exc}") from None
        auth = data.get("auth")
        if isinstance(auth, Mapping) and auth:
            return True
    return False
