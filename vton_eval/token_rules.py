"""Who may spend the token: the allow-list of endpoints that may receive HF_TOKEN (the `[token]` table of the roles
file, see `vton_eval.access`), what happens to the token for a call (sent, withheld or the call refused), decided
before anything starts, and the environment a run process inherits.

The dashboard always follows these rules (with no roles file: the token goes to the SM4LL Space only). The
command line follows them once a roles file is configured (`--access FILE`, `$VTON_EVAL_ACCESS`, or
`.streamlit/access.toml` in the working directory; `vton_eval.cli.tokens`): `vton-eval run`, `resume` and
`endpoints inspect` then send the token exactly where the dashboard would. Without one, the person at the
terminal sends their own token to the endpoint they name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from vton_eval.errors import InvalidValue
from vton_eval.secrets import TOKEN_ENV, without_tokens
from vton_eval.services.endpoints import SPACE_ID
from vton_eval.services.spaces import SM4LL_SPACE

TOKEN_OTHERS = ("without-token", "refuse")
TOKEN_KEYS = ("allow", "others")


def endpoint_key(endpoint: str) -> tuple[str, ...]:
    """What the allow-list compares: a Space id (case-insensitive), or a URL's origin (scheme, host, port),
    the unit the token is bound to when a call is made (`vton_eval.http_fetch.ClientGuard`)."""
    text = (endpoint or "").strip()
    if text.startswith(("http://", "https://")):
        url = httpx.URL(text)
        if not url.host or url.userinfo:
            raise InvalidValue(f"{text!r} is not an endpoint URL")
        port = url.port or (443 if url.scheme == "https" else 80)
        return ("url", url.scheme, url.host.lower(), str(port))
    if SPACE_ID.match(text):
        return ("space", text.lower())
    raise InvalidValue(f"{text!r} is neither an http(s) URL nor a Space id like owner/name")


@dataclass(frozen=True)
class TokenRules:
    """The `[token]` table: the endpoints that may receive the token, and what happens to the others."""

    allow: tuple[str, ...] = (SM4LL_SPACE,)
    others: str = "without-token"  # or "refuse"
    _allowed: frozenset[tuple[str, ...]] = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_allowed", frozenset(endpoint_key(e) for e in self.allow))

    def allows(self, endpoint: str) -> bool:
        try:
            return endpoint_key(endpoint) in self._allowed
        except InvalidValue:
            return False


def parse_token_table(table: Mapping[str, Any]) -> TokenRules:
    """The `[token]` table of a roles file; InvalidValue naming what is wrong."""
    allow = table.get("allow", [SM4LL_SPACE])
    if not isinstance(allow, list):
        raise InvalidValue("token.allow must be a list of endpoints")
    for entry in allow:
        try:
            endpoint_key(str(entry))
        except InvalidValue as exc:
            raise InvalidValue(f"token.allow: {exc}") from None
    others = table.get("others", "without-token")
    if others not in TOKEN_OTHERS:
        raise InvalidValue(f"token.others must be \"without-token\" or \"refuse\", got {others!r}")
    return TokenRules(tuple(str(e) for e in allow), others)


@dataclass(frozen=True)
class TokenUse:
    """What happens to the token for a call to `endpoint`, decided before anything starts."""

    endpoint: str
    have_token: bool
    allowed: bool  # on the allow-list
    refused: bool  # not on it, and the roles file refuses such endpoints

    @property
    def send(self) -> bool:
        return self.have_token and self.allowed

    def note(self) -> str:
        """One sentence for the launch form and Try one pair."""
        if self.refused:
            return ("This endpoint is not on the token allow-list, and endpoints off the list are refused here: "
                    "choose an allowed endpoint, or ask an administrator to add it.")
        if not self.have_token:
            return "No HF_TOKEN is configured: the call goes without a token."
        if self.allowed:
            return "The HF_TOKEN is sent to this endpoint (it is on the token allow-list)."
        return "This endpoint is not on the token allow-list: it runs without the HF_TOKEN."


def decide(endpoint: str, have_token: bool, rules: TokenRules) -> TokenUse:
    allowed = rules.allows(endpoint)
    return TokenUse(endpoint, have_token, allowed, refused=not allowed and rules.others == "refuse")


def run_environment(base: Mapping[str, str], use: TokenUse, token: str | None) -> dict[str, str]:
    """The environment of a run process: `base` without any Hugging Face token, plus HF_TOKEN when the
    endpoint may receive it."""
    env = without_tokens(base)
    if use.send and token:
        env[TOKEN_ENV] = token
    return env
