"""A team's roles file and sign-in claims, for the tests of access and of the token rules."""

from __future__ import annotations

from pathlib import Path

from vton_eval import access

TOKEN = "hf_TeamTokenForAllowedEndpointsOnly42"
ISSUER = "https://id.example.com"
ROLES = """
[roles]
operator = ["olga@example.com", "group:vton-operators"]
reviewer = ["@example.com", "sub:robot-7"]
viewer = ["group:vton-viewers"]
"""


def person(sub: str, email: str | None = None, groups: tuple[str, ...] = (), **extra) -> dict:
    """Claims as a provider sends them for a verified address (`email_verified` true unless `extra` says else)."""
    claims = {"is_logged_in": True, "sub": sub, "iss": ISSUER, "groups": list(groups), **extra}
    if email:
        claims = {"email": email, "email_verified": True, **claims}
    return claims


def write_roles(tmp_path: Path, monkeypatch, text: str = ROLES) -> Path:
    """The roles file, named by $VTON_EVAL_ACCESS for the test."""
    path = tmp_path / "access.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv(access.ACCESS_ENV, str(path))
    return path
