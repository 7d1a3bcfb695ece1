"""Who is at the dashboard: the sign-in gate, the acting person for every button, and the service token.

With `[auth]` in Streamlit's secrets, the app's entry calls `gate()` before any page: a visitor who
is not signed in gets the sign-in screen and nothing else (every URL leads there), and a signed-in
person the roles file does not name is told so (and the refusal is audited). An `[auth]` that lacks what
sign-in needs shows nothing but what it lacks. Without `[auth]`, the dashboard is for one person on
127.0.0.1: `gate()` refuses to show anything when it listens elsewhere, unless `vton-eval dashboard`
was started with its loudly named flag, or when it is reached by a name that is not loopback's nor one
the operator configured (a page rebinding its name to this machine). The engine (`vton_eval.access`)
checks every act again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.db import database
from dashboard.text import md
from vton_eval import access, binding, preferences
from vton_eval.access import AccessConfigError, AccessDenied, Action, Actor
from vton_eval.errors import VtonEvalError
from vton_eval.secrets import TOKEN_ENV, handed_token, remember_secret

PAGES_DIR = Path(__file__).resolve().parent / "views"

log = logging.getLogger("vton_eval.dashboard")


def _auth_section() -> Mapping[str, Any] | None:
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets file at all: sign-in is not configured
        return None
    return section if isinstance(section, Mapping) and section else None


def sign_in_configured() -> bool:
    return _auth_section() is not None


def _claims() -> dict[str, Any]:
    return dict(st.user.to_dict())


def signed_in() -> bool:
    return bool(_claims().get("is_logged_in"))


def actor() -> Actor:
    """The person acting in this session: the signed-in identity with its role from the roles file (read again
    on every call, so a changed role counts at the next click), or the local operator without sign-in."""
    if not sign_in_configured():
        return access.local_actor()
    claims = _claims()
    if not claims.get("is_logged_in"):
        raise AccessDenied("not signed in")
    return access.actor_from_claims(claims)


def may(action: Action) -> bool:
    try:
        return actor().may(action)
    except VtonEvalError:
        return False


def service_token() -> str | None:
    """The token `vton-eval dashboard` handed over (through a pipe, never this process's environment), else
    HF_TOKEN from the environment (`streamlit run` by hand), else from Streamlit secrets. A run started here gets
    it only for an allowed endpoint (`vton_eval.token_rules.run_environment`)."""
    token = handed_token() or os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        try:
            token = str(st.secrets.get(TOKEN_ENV) or "").strip()
        except Exception:  # no secrets file: no token
            token = ""
    remember_secret(token or None)
    return token or None


def _only(screen: Callable[[], None], title: str) -> None:
    """Show `screen` as the app's only page, whatever the URL asked for, and draw nothing else. The pages' own
    addresses lead to it too (a bookmark of /review gets the sign-in screen, not "page not found")."""
    paths = sorted(p.stem for p in PAGES_DIR.glob("*.py") if not p.name.startswith("_"))
    pages = [st.Page(screen, title=title, url_path="welcome", default=True)]
    pages += [st.Page(screen, title=title, url_path=path) for path in paths if path != "welcome"]
    st.navigation(pages, position="hidden").run()
    st.stop()


def _providers(section: Mapping[str, Any]) -> list[str | None]:
    """The providers [auth] configures: the default one (keys at its top) and each named [auth.NAME]."""
    named = [name for name, value in section.items() if isinstance(value, Mapping)]
    return ([None] if "client_id" in section else []) + named


def _sign_in_screen() -> None:
    st.title("vton-eval")
    st.info("Sign in to see the results of this team's try-on evaluations.", icon=":material/lock:")
    for provider in _providers(_auth_section() or {}):
        label = "Sign in" if provider is None else f"Sign in with {provider}"
        st.button(label, key=f"sign_in_{provider or 'default'}", type="primary", icon=":material/login:",
                  on_click=st.login, args=(provider,) if provider else ())


def _sign_out_button(key: str) -> None:
    st.button("Sign out", key=key, icon=":material/logout:", on_click=st.logout)


def _no_access(message: str) -> Callable[[], None]:
    def screen() -> None:
        st.title("vton-eval")
        st.warning(md(message), icon=":material/block:")
        _sign_out_button("sign_out_refused")
    return screen


def _open_to_the_network() -> bool:
    """Listening beyond this machine without sign-in, and not told to on purpose."""
    address = st.get_option("server.address")
    return not binding.is_loopback(address or "") and os.environ.get(binding.UNSAFE_LISTEN_ENV) != "1"


def _host_header() -> str | None:
    try:
        return st.context.headers.get("Host")
    except Exception:  # no request behind this run (a test harness): nothing to check
        return None


def _wrong_host() -> bool:
    """Reached by a name that is neither loopback's nor configured: possibly a page that rebinds its own name to
    this machine (DNS rebinding), which would drive the dashboard with this person's rights."""
    listening_beyond = not binding.is_loopback(st.get_option("server.address") or "")
    extra = binding.configured_hosts(os.environ.get(binding.ALLOWED_HOSTS_ENV))
    return not binding.host_allowed(_host_header(), extra, any_address=listening_beyond)


def _not_this_name() -> None:
    st.title("vton-eval")
    st.error(f"This dashboard has no sign-in, so it answers only at localhost or 127.0.0.1; it was reached as "
             f"{md(_host_header() or '?')}. A web page can give its own name this machine's address (DNS rebinding) "
             "to drive a dashboard like this one. If that name is yours, start it with `vton-eval dashboard "
             "--allow-host NAME`.", icon=":material/gpp_bad:")


def _half_configured(problems: list[str]) -> Callable[[], None]:
    def screen() -> None:
        st.title("vton-eval")
        st.error(f"Sign-in is configured only in part ([auth] in the secrets: {md('; '.join(problems))}), so nobody "
                 "can sign in. An administrator completes it (see docs/team-access.md) or removes it.",
                 icon=":material/gpp_bad:")
    return screen


def _audit_refused_sign_in(message: str) -> None:
    """A signed-in account with no role is recorded once per session (who tried, with which identity)."""
    claims = _claims()
    key = f"refused_sign_in_{claims.get('iss')}#{claims.get('sub')}"
    if st.session_state.get(key):
        return
    st.session_state[key] = True
    try:
        access.refuse_sign_in(database(), claims, message)
    except Exception:  # an unusable store must not hide the refusal screen; the log keeps why
        log.exception("the refused sign-in could not be written to the audit trail")


def _not_on_loopback() -> None:
    st.title("vton-eval")
    st.error(f"This dashboard listens on {md(st.get_option('server.address') or 'every interface')} without "
             "sign-in, so anyone who can reach it could launch runs and spend the token. Configure sign-in ([auth] "
             "in .streamlit/secrets.toml), listen on 127.0.0.1, or start it with `vton-eval dashboard "
             "--unsafe-listen-without-sign-in` if that is really meant.", icon=":material/gpp_bad:")


def checkpoint() -> Actor:
    """The acting person, or a screen that shows nothing else (then the script stops). Called by the app's
    entry before the navigation, and again by every page's `render`, so that a page script that ever runs
    without the entry (AppTest's switch_page can) shows nothing either."""
    if not sign_in_configured():
        if _open_to_the_network():
            _only(_not_on_loopback, "Not on loopback")
        if _wrong_host():
            _only(_not_this_name, "Not this name")
        return access.local_actor()
    problems = binding.auth_problems(_auth_section() or {})
    if problems:
        _only(_half_configured(problems), "Sign-in incomplete")
    if not signed_in():
        _only(_sign_in_screen, "Sign in")
    try:
        return actor()
    except (AccessDenied, AccessConfigError) as exc:
        if isinstance(exc, AccessDenied):
            _audit_refused_sign_in(str(exc))
        _only(_no_access(str(exc)), "No access")
        raise  # not reached: _only stops the script


def gate() -> Actor:
    """The app's entry: `checkpoint`, then who is signed in (and Sign out) in the sidebar."""
    person = checkpoint()
    if person.signed_in:
        with st.sidebar:
            st.caption(f"Signed in as **{md(person.name)}** · {person.role.label}")
            _sign_out_button("sign_out")
    return person


def acting_reviewer() -> Actor:
    """The person a verdict or pick callback acts for, read when it is clicked (not when the page was drawn)."""
    if sign_in_configured():
        return actor()
    name = st.session_state.get("reviewer")
    if not name:
        raise AccessDenied("enter your name first: it is stored with each verdict and pick")
    return access.local_actor(name)


def reviewer(key: str, button: str) -> Actor | None:
    """Who gives verdicts and picks here: the signed-in person (no name to type), or without sign-in a name
    asked once per session (a form, so "Start" takes what is typed without Enter first)."""
    if sign_in_configured():
        person = actor()
        st.caption(f"Reviewing as **{md(person.name)}**"
                   + ("" if person.may(Action.VERDICT) else " · a viewer: verdicts and picks need the reviewer role"))
        return person
    name = st.session_state.get("reviewer")
    if name:
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.caption(f"Reviewing as **{md(name)}**")
        if right.button("Change name", key=f"{key}_reviewer_change"):
            del st.session_state["reviewer"]
            st.rerun()
        return access.local_actor(name)
    with st.form(f"{key}_reviewer_form", border=False, enter_to_submit=True):
        st.text_input("Your name (stored with each verdict and pick)", key=f"{key}_reviewer_input",
                      max_chars=preferences.MAX_REVIEWER)
        started = st.form_submit_button(button, type="primary")
    if started:
        try:
            st.session_state["reviewer"] = preferences.clean_reviewer(st.session_state.get(f"{key}_reviewer_input"))
        except VtonEvalError as exc:
            st.error(md(exc))
            return None
        st.rerun()
    return None
