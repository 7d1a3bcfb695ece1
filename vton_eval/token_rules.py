"""Who may spend the token: for a call to an endpoint, whether HF_TOKEN is sent, withheld or the call refused
(the `[token]` table of the roles file, see `vton_eval.access`), decided before anything starts.

The dashboard always follows these rules (with no roles file: the token goes to the SM4LL Space only). The
command line follows them once a roles file is configured (`--access FILE`, `$VTON_EVAL_ACCESS`, or
`.streamlit/access.toml` in the working directory): `vton-eval run`, `resume` and `endpoints inspect` then send
the token exactly where the dashboard would. Without one, the person at the terminal sends their own token to
the endpoint they name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vton_eval.access import ACCESS_ENV, AccessConfig, AccessDenied, Action, Actor, config_path, load_config, refuse
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


def command_line_rules(access_file: Path | None = None) -> AccessConfig | None:
    """The roles file the command line follows: `access_file`, else `$VTON_EVAL_ACCESS`, else
    `.streamlit/access.toml` when it exists; None when none is configured."""
    if access_file is not None:
        return load_config(access_file)
    if os.environ.get(ACCESS_ENV) or config_path().exists():
        return load_config()
    return None


def command_line_token(endpoint: str, token: str | None, rules: AccessConfig | None, db: Store | None = None,
                       actor: Actor | None = None, action: Action = Action.LAUNCH,
                       run_id: str | None = None) -> tuple[str | None, str | None]:
    """(the token a command sends to `endpoint`, a note for the terminal or None). With `rules`: sent only to an
    allowed endpoint, withheld from others, or AccessDenied (recorded in `db` when given) when they are refused."""
    if rules is None or not token:
        return token, None
    use = token_use(endpoint, True, rules)
    if use.refused:
        reason = (f"{endpoint} is not on the token allow-list of {rules.source}, and endpoints off the list are "
                  "refused")
        if db is not None and actor is not None:
            raise refuse(db, actor, action, reason, run_id)
        raise AccessDenied(reason)
    if use.send:
        return token, None
    return None, f"{endpoint} is not on the token allow-list of {rules.source}: the call goes without the HF_TOKEN"


def run_environment(base: Mapping[str, str], use: TokenUse, token: str | None) -> dict[str, str]:
    """The environment of a run process: `base` without any Hugging Face token, plus HF_TOKEN when the
    endpoint may receive it."""
    env = without_tokens(base)
    if use.send and token:
        env[TOKEN_ENV] = token
    return env
