"""Who may spend the token: for a call to an endpoint, whether HF_TOKEN is sent, withheld or the call refused
(the `[token]` table of the roles file, see `vton_eval.access`), decided before anything starts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vton_eval.access import AccessConfig, Action, Actor, load_config, refuse
from vton_eval.secrets import TOKEN_ENV, without_tokens
from vton_eval.store.base import Store


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


def token_use(endpoint: str, have_token: bool, config: AccessConfig | None = None) -> TokenUse:
    config = config or load_config()
    allowed = config.allows_token(endpoint)
    return TokenUse(endpoint, have_token, allowed, refused=not allowed and config.token_others == "refuse")


def check_token_use(db: Store, actor: Actor, action: Action, use: TokenUse, run_id: str | None = None) -> None:
    if use.refused:
        raise refuse(db, actor, action, f"{use.endpoint} is not on the token allow-list, and endpoints off the list "
                                        "are refused", run_id)


def run_environment(base: Mapping[str, str], use: TokenUse, token: str | None) -> dict[str, str]:
    """The environment of a run process: `base` without any Hugging Face token, plus HF_TOKEN when the
    endpoint may receive it."""
    env = without_tokens(base)
    if use.send and token:
        env[TOKEN_ENV] = token
    return env
