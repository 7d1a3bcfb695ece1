"""The token rules at the command line: which roles file it follows, and what a command sends to an endpoint.

Without a configured roles file the person at the terminal sends their own token to the endpoint they name;
with one, exactly where the dashboard would (`vton_eval.token_rules`).
"""

from __future__ import annotations

import os
from pathlib import Path

from vton_eval.access import (
    ACCESS_ENV,
    AccessConfig,
    AccessDenied,
    Action,
    Actor,
    config_path,
    load_config,
    refuse,
    token_use,
)
from vton_eval.store.base import Store


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
