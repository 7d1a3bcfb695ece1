"""Team access: who is acting, what their role lets them do, and which endpoints may receive the token.

- **Identity.** A person signed in through the dashboard's OpenID Connect provider is an `Actor`
  named by their verified e-mail (or their subject id when the provider vouches for no e-mail), with
  the identity `issuer#subject`. Without sign-in (a dashboard on 127.0.0.1 for one person, or the
  command line) the actor is unverified: a typed reviewer name, or the OS user.
- **Roles.** `viewer` reads; `reviewer` also gives verdicts and blind picks; `operator` also launches,
  cancels and resumes runs, tries one pair, blesses baselines, changes datasets (creates one, adds
  pairs, edits tags, imports a server folder), and is the lead who settles reviewers' disagreements and
  sets how many reviewers judge each case. A signed-in person's role comes
  from the roles file (rules by e-mail, e-mail domain, group claim or subject); without sign-in the
  single local person is an operator. Every engine function that acts takes the actor and calls
  `permit` first: a page that offers a button it should not, or a request forged around the page,
  is refused here, and the refusal is written to the audit trail.
- **The token.** HF_TOKEN goes only to endpoints on the allow-list (`[token] allow`); any other
  endpoint runs without it, or is refused when `[token] others = "refuse"`. `token_use` says which
  before anything starts (the allow-list itself, and `run_environment`, which builds the environment of a
  run process so that it inherits the token only for an allowed endpoint, are `vton_eval.token_rules`).

The roles file (TOML; `$VTON_EVAL_ACCESS`, else `.streamlit/access.toml` in the working directory):

    [roles]
    operator = ["alice@example.com", "group:vton-operators"]
    reviewer = ["@example.com", "group:vton-reviewers"]   # "@domain": every verified address there
    viewer = ["group:vton-viewers", "sub:1234567890"]      # "sub:ID": a subject without e-mail
    others = "none"            # a signed-in person no rule names: "none" (refused), "viewer" or "reviewer"
    groups_claim = "groups"    # the ID-token claim that lists a person's groups

    [token]
    allow = ["sm4ll-VTON/sm4ll-VTON-Demo", "https://my-org-vton.hf.space"]
    others = "without-token"   # an endpoint not on the list: "without-token" or "refuse"

    [datasets]
    import_roots = ["/data/test-sets"]   # the server folders the Datasets page may import from

An e-mail counts only when the provider says it is verified (`email_verified` exactly true): a provider
that never says so (Entra ID) is matched by group or `sub:` rules.
"""

from __future__ import annotations

import enum
import getpass
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vton_eval.clock import utcnow
from vton_eval.errors import InvalidValue, VtonEvalError
from vton_eval.provenance import tool_version

# The roles file's names, re-exported: the pages, the CLI and the tests ask access for them.
from vton_eval.roles_file import ACCESS_ENV as ACCESS_ENV
from vton_eval.roles_file import DEFAULT_ACCESS_FILE as DEFAULT_ACCESS_FILE
from vton_eval.roles_file import ROLE_NAMES as ROLE_NAMES
from vton_eval.roles_file import AccessConfig as AccessConfig
from vton_eval.roles_file import AccessConfigError as AccessConfigError
from vton_eval.roles_file import Role as Role
from vton_eval.roles_file import config_path as config_path
from vton_eval.roles_file import load_config as load_config
from vton_eval.roles_file import parse_config as parse_config
from vton_eval.store import audit
from vton_eval.store.base import Store, Writer
from vton_eval.token_rules import TokenUse, decide


class AccessDenied(VtonEvalError, PermissionError):
    """The actor's role does not allow the action, or the endpoint may not be called from here."""


class Action(enum.Enum):
    """What a person can do, with the least role that may (the value is the audit trail's name)."""

    VERDICT = "verdict"
    PICK = "pick"
    LAUNCH = "launch"
    CANCEL = "cancel"
    RESUME = "resume"
    TRY = "try"
    BLESS = "bless"
    SETTLE = "settle"  # a lead's ruling where reviewers disagree
    TARGET = "overlap_target"  # how many reviewers judge each case of a dataset
    CREATE_DATASET = "create_dataset"
    ADD_PAIR = "add_pair"
    SET_TAGS = "set_tags"
    IMPORT_DATASET = "import_dataset"

    @property
    def needs(self) -> Role:
        return Role.REVIEWER if self in (Action.VERDICT, Action.PICK) else Role.OPERATOR


_DOING = {Action.VERDICT: "giving verdicts", Action.PICK: "blind picks", Action.LAUNCH: "launching runs",
          Action.CANCEL: "cancelling runs", Action.RESUME: "resuming runs", Action.TRY: "trying one pair",
          Action.BLESS: "blessing baselines", Action.SETTLE: "settling disagreements",
          Action.TARGET: "setting the overlap target", Action.CREATE_DATASET: "creating datasets",
          Action.ADD_PAIR: "adding pairs to datasets", Action.SET_TAGS: "editing tags",
          Action.IMPORT_DATASET: "importing datasets"}
# What a sign-in the roles file gives no role is recorded as (it is no act of a role, so no Action).
SIGN_IN = "sign_in"
# A verdict taken back: recorded under its own name, with the verdict's role.
VERDICT_CLEARED = "verdict_cleared"
# Every name the audit trail records an act under.
AUDIT_ACTIONS: tuple[str, ...] = (*(a.value for a in Action), VERDICT_CLEARED, SIGN_IN)


@dataclass(frozen=True)
class Actor:
    """Who acts. `name` is what verdicts, picks and the audit trail store; `identity` (`issuer#subject`) is
    set only for a person the sign-in provider vouched for."""

    name: str
    role: Role
    identity: str | None = None
    via: str = "sign-in"  # "sign-in", "dashboard" (no sign-in configured) or "cli"

    @property
    def signed_in(self) -> bool:
        return self.identity is not None

    def may(self, action: Action) -> bool:
        return self.role >= action.needs


def local_actor(name: str | None = None, via: str = "dashboard") -> Actor:
    """The one person at a dashboard without sign-in (bound to 127.0.0.1), or at the command line: an
    operator, named by a typed reviewer name or else the OS user. Unverified: identity None."""
    if name is None:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no user name for this uid (a container)
            user = f"uid{os.getuid()}"
        name = f"{user}@{socket.gethostname()}"
    name = name.strip()
    if not name:
        raise InvalidValue("a reviewer name is needed")
    return Actor(name=name, role=Role.OPERATOR, identity=None, via=via)


# -- identity from the sign-in provider ----------------------------------------------------------------------

def _groups(claims: Mapping[str, Any], claim: str) -> frozenset[str]:
    value = claims.get(claim)
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(str(v) for v in value)
    return frozenset()


def actor_from_claims(claims: Mapping[str, Any], config: AccessConfig | None = None) -> Actor:
    """The signed-in person the ID token's claims describe, with their role; AccessDenied when the roles
    file gives them none. An e-mail counts only when the provider says it is verified: `email_verified`
    exactly true (a missing claim, "true" as text, "yes" or 1 do not), else the person is `sub:ID`."""
    config = config or load_config()
    sub = str(claims.get("sub") or "").strip()
    if not sub:
        raise AccessDenied("the sign-in provider sent no subject (sub) for this account")
    email_text = str(claims.get("email") or "").strip().lower()
    verified = claims.get("email_verified") is True
    email = email_text if email_text and verified else None
    groups = _groups(claims, config.groups_claim)
    matched = [r.role for r in config.rules if r.matches(email, groups, sub)]
    role = max(matched) if matched else config.others
    name = email or f"sub:{sub}"
    if role is None:
        where = config.source or f"{config_path()} (there is none yet)"
        raise AccessDenied(f"{name} is signed in but has no role here: an administrator adds them to the "
                           f"roles file, {where}")
    issuer = str(claims.get("iss") or claims.get("provider") or "unknown").strip()
    return Actor(name=name, role=role, identity=f"{issuer}#{sub}", via="sign-in")


# -- permission and the audit trail ---------------------------------------------------------------------------

def audit_entry(actor: Actor, action: str, outcome: str = audit.DONE, run_id: str | None = None,
                subject: str | None = None, detail: Mapping[str, Any] | None = None) -> audit.AuditEntry:
    return audit.AuditEntry(
        acted_at=utcnow(), actor=actor.name, identity=actor.identity or f"unverified:{actor.via}",
        role=actor.role.label, action=action, outcome=outcome, run_id=run_id, subject=subject,
        detail=json.dumps(dict(detail), sort_keys=True, default=str) if detail else None, tool_version=tool_version())


def record(w: Writer, actor: Actor, action: str, run_id: str | None = None, subject: str | None = None,
           detail: Mapping[str, Any] | None = None) -> None:
    """Append what `actor` did, in the caller's write transaction."""
    audit.record(w, audit_entry(actor, action, audit.DONE, run_id, subject, detail))


def refuse(db: Store | None, actor: Actor, action: Action, reason: str, run_id: str | None = None,
           subject: str | None = None) -> AccessDenied:
    """Record a refused attempt (in `db`, when there is one) and return the error to raise."""
    if db is not None:
        entry = audit_entry(actor, action.value, audit.REFUSED, run_id, subject, {"reason": reason})
        db.write(lambda w: audit.record(w, entry))
    return AccessDenied(reason)


def permit(db: Store | None, actor: Actor, action: Action, run_id: str | None = None,
           subject: str | None = None) -> None:
    """Raise AccessDenied (and write the refusal to the audit trail) unless the actor's role allows `action`."""
    if not isinstance(actor, Actor):
        raise TypeError("an acting function needs the Actor (vton_eval.access), not a name")
    if actor.may(action):
        return
    reason = (f"{actor.name} is a {actor.role.label}: {_DOING[action]} needs the {action.needs.label} role "
              "(roles are set in the roles file)")
    raise refuse(db, actor, action, reason, run_id, subject)


def record_act(db: Store | None, actor: Actor, action: Action, subject: str | None = None,
               detail: Mapping[str, Any] | None = None) -> None:
    """Append an act that writes no row of its own (a dataset changed on disk) to the audit trail of `db`."""
    if db is not None:
        db.write(lambda w: record(w, actor, action.value, subject=subject, detail=detail))


def refuse_sign_in(db: Store, claims: Mapping[str, Any], reason: str) -> None:
    """Record that a signed-in account was let in with no role (the roles file names it nowhere)."""
    sub = str(claims.get("sub") or "").strip()
    email = str(claims.get("email") or "").strip().lower()
    name = email if email and claims.get("email_verified") is True else f"sub:{sub or '?'}"
    issuer = str(claims.get("iss") or claims.get("provider") or "unknown").strip()
    entry = audit.AuditEntry(acted_at=utcnow(), actor=name, identity=f"{issuer}#{sub}" if sub else None, role=None,
                             action=SIGN_IN, outcome=audit.REFUSED, detail=json.dumps({"reason": reason}),
                             tool_version=tool_version())
    db.write(lambda w: audit.record(w, entry))


def owns(held: list[dict[str, Any]], actor: Actor) -> bool:
    """Whether `actor` may replace or clear the row `held` describes (its identity; [] when there is none): a
    row a signed-in person wrote is theirs alone; a typed name's row is anyone's with that name."""
    return not held or held[0].get("identity") is None or held[0]["identity"] == actor.identity


# -- the token ------------------------------------------------------------------------------------------------


def token_use(endpoint: str, have_token: bool, config: AccessConfig | None = None) -> TokenUse:
    """What happens to the token for a call to `endpoint` under the roles file (`config`, else the configured one)."""
    return decide(endpoint, have_token, (config or load_config()).token)


def check_token_use(db: Store, actor: Actor, action: Action, use: TokenUse, run_id: str | None = None) -> None:
    if use.refused:
        raise refuse(db, actor, action, f"{use.endpoint} is not on the token allow-list, and endpoints off the list "
                                        "are refused", run_id)
