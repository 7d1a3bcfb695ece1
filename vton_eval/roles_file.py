"""The roles file: who has which role (rules by e-mail, domain, group or subject), where the token may go
(`[token]`, read by `vton_eval.token_rules`), and which server folders datasets may be imported from. Read
again when it changes; a file that cannot be used as written is refused with what is wrong and where
(`vton_eval.access` describes the file and decides with it)."""

from __future__ import annotations

import difflib
import enum
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vton_eval.errors import InvalidValue, VtonEvalError
from vton_eval.token_rules import TOKEN_KEYS, TokenRules, parse_token_table

ACCESS_ENV = "VTON_EVAL_ACCESS"
DEFAULT_ACCESS_FILE = Path(".streamlit") / "access.toml"


class AccessConfigError(VtonEvalError):
    """The roles file cannot be used as written; nobody gets in until it is fixed."""


class Role(enum.IntEnum):
    VIEWER = 1
    REVIEWER = 2
    OPERATOR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


ROLE_NAMES = {r.label: r for r in Role}


# -- the roles file ------------------------------------------------------------------------------------------

_ROLE_KEYS = ("operator", "reviewer", "viewer", "others", "groups_claim")
_DATASET_KEYS = ("import_roots",)
_TABLES = ("roles", "token", "datasets")


@dataclass(frozen=True)
class Rule:
    role: Role
    kind: str  # "email", "domain", "group" or "sub"
    value: str

    def matches(self, email: str | None, groups: frozenset[str], sub: str | None) -> bool:
        if self.kind == "email":
            return email == self.value
        if self.kind == "domain":
            return email is not None and email.endswith(self.value)
        if self.kind == "group":
            return self.value in groups
        return sub == self.value


@dataclass(frozen=True)
class AccessConfig:
    rules: tuple[Rule, ...] = ()
    others: Role | None = None  # None: a signed-in person no rule names is refused
    groups_claim: str = "groups"
    token: TokenRules = TokenRules()
    # Server folders a dataset may be imported from by someone not at the command line (absolute, resolved).
    import_roots: tuple[Path, ...] = ()
    source: str | None = None  # the file it was read from (None: the defaults)


def _suggest(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _parse_rule(role: Role, text: Any, where: str) -> Rule:
    if not isinstance(text, str) or not text.strip():
        raise AccessConfigError(f"{where}: each rule is a non-empty string, got {text!r}")
    text = text.strip()
    if text.startswith("group:"):
        return Rule(role, "group", text[len("group:"):])
    if text.startswith("sub:"):
        return Rule(role, "sub", text[len("sub:"):])
    if text.startswith("@") and "." in text:
        return Rule(role, "domain", text.lower())
    if "@" in text[1:]:
        return Rule(role, "email", text.lower())
    raise AccessConfigError(f"{where}: {text!r} is not an e-mail address, @domain, group:NAME or sub:ID")


def parse_config(data: Mapping[str, Any], source: str | None = None) -> AccessConfig:
    """An AccessConfig from the roles file's tables; AccessConfigError naming what is wrong."""
    where = source or "the roles file"
    unknown = set(data) - set(_TABLES)
    if unknown:
        key = sorted(unknown)[0]
        raise AccessConfigError(f"{where}: unknown table [{key}]{_suggest(key, _TABLES)}")
    roles = data.get("roles", {})
    token = data.get("token", {})
    datasets = data.get("datasets", {})
    for table, keys, name in ((roles, _ROLE_KEYS, "roles"), (token, TOKEN_KEYS, "token"),
                              (datasets, _DATASET_KEYS, "datasets")):
        if not isinstance(table, Mapping):
            raise AccessConfigError(f"{where}: [{name}] must be a table")
        for key in table:
            if key not in keys:
                raise AccessConfigError(f"{where}: unknown key {key!r} in [{name}]{_suggest(key, keys)}")
    rules = []
    for role in Role:
        entries = roles.get(role.label, [])
        if not isinstance(entries, list):
            raise AccessConfigError(f"{where}: roles.{role.label} must be a list of rules")
        rules += [_parse_rule(role, e, f"{where}: roles.{role.label}") for e in entries]
    others_text = roles.get("others", "none")
    if others_text not in ("none", "viewer", "reviewer"):
        raise AccessConfigError(f"{where}: roles.others must be \"none\", \"viewer\" or \"reviewer\" (an operator "
                                f"is always named), got {others_text!r}")
    groups_claim = roles.get("groups_claim", "groups")
    if not isinstance(groups_claim, str) or not groups_claim:
        raise AccessConfigError(f"{where}: roles.groups_claim must be a claim name")
    try:
        token_rules = parse_token_table(token)
    except InvalidValue as exc:
        raise AccessConfigError(f"{where}: {exc}") from None
    return AccessConfig(rules=tuple(rules), others=None if others_text == "none" else ROLE_NAMES[others_text],
                        groups_claim=groups_claim, token=token_rules, import_roots=_import_roots(datasets, where),
                        source=source)


def _import_roots(table: Mapping[str, Any], where: str) -> tuple[Path, ...]:
    entries = table.get("import_roots", [])
    if not isinstance(entries, list):
        raise AccessConfigError(f"{where}: datasets.import_roots must be a list of folders")
    roots = []
    for entry in entries:
        if not isinstance(entry, str) or not Path(entry).is_absolute():
            raise AccessConfigError(f"{where}: datasets.import_roots: {entry!r} is not an absolute folder path")
        root = Path(entry).resolve()
        if root == root.parent:
            raise AccessConfigError(f"{where}: datasets.import_roots: {entry!r} is the whole file system; name the "
                                    "folders that hold test sets")
        roots.append(root)
    return tuple(roots)


def config_path() -> Path:
    return Path(os.environ.get(ACCESS_ENV) or DEFAULT_ACCESS_FILE)


_loaded: dict[str, tuple[tuple[int, int], AccessConfig]] = {}


def load_config(path: Path | str | None = None) -> AccessConfig:
    """The roles file at `path` (default: `config_path()`), read again when it changes; the defaults when
    there is none (no one is named, the token goes to the SM4LL Space only)."""
    path = Path(path) if path is not None else config_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        if os.environ.get(ACCESS_ENV):
            raise AccessConfigError(f"the roles file {path} named by {ACCESS_ENV} does not exist") from None
        return AccessConfig()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _loaded.get(str(path))
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AccessConfigError(f"the roles file {path} cannot be read: {exc}") from None
    except RecursionError:
        raise AccessConfigError(f"the roles file {path} cannot be read: it is nested too deeply") from None
    config = parse_config(data, str(path))
    _loaded[str(path)] = (stamp, config)
    return config
