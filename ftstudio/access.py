"""Who may do what: users, roles, and the one check every handler calls.

Three ways to run a studio:
- open: no users configured; one person on 127.0.0.1, who may do everything (the local default);
- password: `FTSTUDIO_USERS` names a users file (salted scrypt hashes, managed by `ftstudio users`);
- oauth: on Hugging Face Spaces, the identity is the Hugging Face account from the server-side session
  (`gr.OAuthProfile`), and only the users or the organisation configured here get in.

The identity always comes from the server (the login cookie, the OAuth session), never from a widget or a
request body: since Gradio 6.21 an API caller can put any `oauth_token` in the body, so we never read one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ROLES = ("admin", "annotator", "reviewer")

# action → (what it is, in words, for the refusal message; roles allowed)
ACTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "view": ("see the studio", frozenset(ROLES)),
    "data": ("browse imported items", frozenset({"admin", "annotator"})),
    "label": ("label items", frozenset({"admin", "annotator"})),
    "review": ("vote in blind reviews", frozenset({"admin", "reviewer"})),
    # Whoever votes may correct the answer they just voted on: it becomes an accepted example (a labeling act).
    "correct": ("correct an answer after a blind vote", frozenset({"admin", "reviewer"})),
    "results": ("read review results", frozenset({"admin", "reviewer"})),
    "inspect": ("see which system wrote which answer", frozenset({"admin"})),
    "manage": ("import data and create, rename or delete projects", frozenset({"admin"})),
    "datasets": ("freeze and export dataset versions", frozenset({"admin"})),
    "settings": ("change project settings", frozenset({"admin"})),
    "train": ("start, cancel or export training runs", frozenset({"admin"})),
    "generate": ("generate answers for review", frozenset({"admin"})),
    "judge": ("configure and run the judge", frozenset({"admin"})),
    "model": ("load base models", frozenset({"admin"})),
    "users": ("manage users", frozenset({"admin"})),
}


class AccessDenied(Exception):
    """The caller is not signed in, or their role does not allow the action."""


class UsersFileError(ValueError):
    """The users file is missing, unreadable or holds a bad entry."""


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the server knows it. `name` is None in an open (single-user) studio."""

    name: str | None
    role: str
    signed_in: bool = False

    def may(self, action: str) -> bool:
        return self.role in ACTIONS[action][1]

    def recorded_name(self, typed: str | None = None) -> str | None:
        """The name written with a label, vote or run: the signed-in user; in an open studio, the name typed."""
        if self.signed_in:
            return self.name
        return (typed or "").strip() or None


NOBODY = Caller(None, "none")


def require(caller: Caller, action: str) -> Caller:
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}")
    what, allowed = ACTIONS[action]
    if caller.role == "none":
        if caller.name:
            raise AccessDenied(f"You are signed in as {caller.name}, who is not among this studio's users; "
                               "ask an admin to add you.")
        raise AccessDenied("Sign in first: this studio needs a login.")
    if caller.role not in allowed:
        who = ", ".join(sorted(allowed))
        raise AccessDenied(f"Your role ({caller.role}) may not {what}; that needs: {who}. Ask an admin.")
    return caller


# --- passwords -------------------------------------------------------------------------------------------------
# scrypt from the standard library: a memory-hard password hash, so a leaked users file is slow to crack.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def hash_password(password: str, salt: bytes | None = None) -> dict:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return {"algorithm": "scrypt", "salt": salt.hex(), "hash": digest.hex()}


def verify_password(password: str, entry: dict) -> bool:
    if entry.get("algorithm") != "scrypt" or not entry.get("salt") or not entry.get("hash"):
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(entry["salt"]), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), entry["hash"])


def check_role(role: str) -> str:
    role = (role or "").strip().lower()
    if role not in ROLES:
        raise UsersFileError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
    return role


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64 or any(ch.isspace() or ch in ":/\\" for ch in name):
        raise UsersFileError("A user name is 1 to 64 characters, without spaces, ':' or slashes.")
    return name


class UserBook:
    """The users file: {"users": [{"name", "role", "algorithm", "salt", "hash"}]}, written atomically, mode 0600."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
            users = {check_name(u["name"]): u for u in data.get("users", [])}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise UsersFileError(f"The users file {self.path} cannot be read ({error}); fix or remove it.") from None
        for entry in users.values():
            check_role(entry.get("role", ""))
        return users

    def _save(self, users: dict[str, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps({"users": sorted(users.values(), key=lambda u: u["name"])}, indent=1))
        temporary.chmod(0o600)
        os.replace(temporary, self.path)

    def add(self, name: str, role: str, password: str) -> dict:
        name, role = check_name(name), check_role(role)
        if len(password or "") < 8:
            raise UsersFileError("A password needs at least 8 characters.")
        users = self.load()
        if name in users:
            raise UsersFileError(f"User {name!r} exists already: use set-role, or remove it first.")
        users[name] = {"name": name, "role": role, **hash_password(password)}
        self._save(users)
        return self.public(users[name])

    def remove(self, name: str) -> None:
        users = self.load()
        if users.pop(name, None) is None:
            raise UsersFileError(f"No user named {name!r}.")
        self._save(users)

    def set_role(self, name: str, role: str) -> dict:
        users = self.load()
        if name not in users:
            raise UsersFileError(f"No user named {name!r}.")
        users[name]["role"] = check_role(role)
        self._save(users)
        return self.public(users[name])

    def list(self) -> list[dict]:
        return [self.public(u) for u in sorted(self.load().values(), key=lambda u: u["name"])]

    @staticmethod
    def public(entry: dict) -> dict:
        return {"name": entry["name"], "role": entry["role"]}


@dataclass
class OAuthRules:
    """Who may sign in with Hugging Face: named users with their roles, and members of one organisation."""

    users: dict[str, str] = field(default_factory=dict)   # HF user name → role
    organisation: str | None = None
    organisation_role: str = "annotator"

    @classmethod
    def from_environment(cls, environ=os.environ) -> "OAuthRules":
        users = {}
        for entry in (environ.get("FTSTUDIO_OAUTH_USERS") or "").split(","):
            if entry.strip():
                name, _, role = entry.partition(":")
                users[check_name(name)] = check_role(role or "annotator")
        return cls(users=users, organisation=(environ.get("FTSTUDIO_OAUTH_ORG") or "").strip() or None,
                   organisation_role=check_role(environ.get("FTSTUDIO_OAUTH_ORG_ROLE") or "annotator"))


@dataclass
class AccessPolicy:
    """How this studio decides who is calling. Built once at start; handlers ask it for the caller."""

    mode: str = "open"                       # open | password | oauth
    book: UserBook | None = None
    oauth: OAuthRules | None = None

    @classmethod
    def from_environment(cls, environ=os.environ) -> "AccessPolicy":
        if environ.get("FTSTUDIO_USERS"):
            book = UserBook(Path(environ["FTSTUDIO_USERS"]))
            if not book.load():
                raise UsersFileError(f"FTSTUDIO_USERS names {book.path}, which holds no users: add one with "
                                     "`ftstudio users add NAME --role admin`.")
            return cls("password", book=book)
        if environ.get("FTSTUDIO_AUTH", "").lower() == "oauth" or environ.get("OAUTH_CLIENT_ID"):
            # OAUTH_CLIENT_ID is set by Spaces when the metadata says hf_oauth: true.
            rules = OAuthRules.from_environment(environ)
            if not rules.users and not rules.organisation:
                raise UsersFileError("Sign-in with Hugging Face is on, but nobody is allowed in: set "
                                     "FTSTUDIO_OAUTH_USERS (name:role,...) and/or FTSTUDIO_OAUTH_ORG.")
            return cls("oauth", oauth=rules)
        return cls("open")

    @property
    def logins(self) -> bool:
        return self.mode != "open"

    def check_password(self, name: str, password: str) -> bool:
        """Gradio's `auth=` callable."""
        entry = (self.book.load() if self.book else {}).get(name or "")
        return bool(entry) and verify_password(password or "", entry)

    def caller_for_login(self, username: str | None) -> Caller:
        """The caller behind a password login (Gradio's `request.username`, from its signed cookie)."""
        if self.mode == "open":
            return Caller(None, "admin")
        entry = (self.book.load() if self.book else {}).get(username or "")
        return Caller(entry["name"], entry["role"], True) if entry else NOBODY

    def caller_for_profile(self, userinfo: dict | None) -> Caller:
        """The caller behind a Hugging Face sign-in (the session's OAuth userinfo, never a request body)."""
        if not userinfo or not self.oauth:
            return NOBODY
        name = userinfo.get("preferred_username") or ""
        if name in self.oauth.users:
            return Caller(name, self.oauth.users[name], True)
        organisations = {o.get("preferred_username") or o.get("name") for o in userinfo.get("orgs") or []
                         if isinstance(o, dict)}
        if self.oauth.organisation and self.oauth.organisation in organisations:
            return Caller(name, self.oauth.organisation_role, True)
        return Caller(name or None, "none")
