"""The station's users and what each role may do; passwords as salted Argon2id hashes (argon2-cffi).

    <app folder>/users.json   {"users": {NAME: {"role", "hash", "failed", "locked_until", ...}}},
                              written atomically, readable by its owner only (0600)

Roles: ``operator`` (run the line: start, stop, pause, acknowledge, snapshot, choose among approved
recipes), ``engineer`` (the operator's rights, and recipes, camera settings, models, training,
labelling), ``administrator`` (everything, and users, line connections, retention, trust lists),
and ``plc`` (an account for the PLC's OPC UA client: it may write Trigger, ResultAck and RecipeIndex,
and nothing else). ``LOCK_AFTER`` wrong passwords in a row lock an account for ``LOCK_S``.

A change that alters what ships as OK (``SIGNED``) is signed: the user gives the password again and a
reason (``UserStore.sign``), and the audit row holds user, role, reason, old and new.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from core.util.io import write_json
from core.util.paths import app_dir

ROLES = ("operator", "engineer", "administrator", "plc")
_OPERATOR = {"inspect.run", "inspect.acknowledge", "inspect.snapshot", "recipe.choose"}
_ENGINEER = _OPERATOR | {"recipe.edit", "camera.edit", "model.choose", "model.approve", "model.register", "train",
                         "label"}
PERMISSIONS: dict[str, frozenset[str]] = {
    "operator": frozenset(_OPERATOR),
    "engineer": frozenset(_ENGINEER),
    "administrator": frozenset(_ENGINEER | {"users.manage", "line.edit", "retention.edit", "certs.trust",
                                            "audit.verify", "audit.export"}),
    "plc": frozenset({"plc.write"}),
}
# what alters what ships as OK: password again and a reason
SIGNED = frozenset({"recipe.edit", "camera.edit", "model.choose", "line.edit"})
LOCK_AFTER = 5
LOCK_S = 15 * 60
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8


class AuthError(PermissionError):
    """A refused login or action, with a message to show."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def may(self, action: str) -> bool:
        return action in PERMISSIONS.get(self.role, ())


@dataclass(frozen=True)
class Signature:
    """Who signed a change, in which role, and why (what the audit row holds)."""
    user: str
    role: str
    reason: str
    action: str


def users_file() -> Path:
    return app_dir() / "users.json"


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()          # Argon2id with the library's recommended cost (RFC 9106, low memory)


class UserStore:
    """The users file. Every method reads it afresh and writes it whole (atomically), so the CLI, the GUI
    and a running station share it."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else users_file()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------- the file
    def _load(self) -> dict:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text())
            users = data["users"]
            if not isinstance(users, dict):
                raise TypeError("'users' is not an object")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{self.path}: unreadable users file ({e}); restore it from a backup") from None
        return users

    def _save(self, users: dict) -> None:
        write_json(self.path, {"version": 1, "users": users}, mode=0o600)

    def exists(self) -> bool:
        """Users are set up: logins are asked for, and ``inspect`` runs under a named account."""
        try:
            return bool(self._load())
        except ValueError:
            return True        # a damaged file must not switch logins off

    def list(self) -> list[dict]:
        now = time.time()
        return [{"name": n, "role": u["role"], "locked": u.get("locked_until", 0) > now,
                 "failed": u.get("failed", 0), "created": u.get("created", ""), "changed": u.get("changed", "")}
                for n, u in sorted(self._load().items())]

    def role_of(self, name: str) -> str | None:
        u = self._load().get(name)
        return u["role"] if u else None

    # ------------------------------------------------------------------------------- changes
    def add(self, name: str, role: str, password: str) -> User:
        if not NAME_RE.match(name or ""):
            raise ValueError(f"'{name}': a user name is 1-64 letters, digits, '.', '_', '@' or '-'")
        _check_role(role)
        _check_password(password)
        with self._lock:
            users = self._load()
            if name in users:
                raise ValueError(f"a user named '{name}' exists already (users passwd changes the password)")
            users[name] = {"role": role, "hash": _hasher().hash(password), "failed": 0, "locked_until": 0,
                           "created": _now(), "changed": _now()}
            self._save(users)
        return User(name, role)

    def set_password(self, name: str, password: str) -> None:
        """A new password; it also unlocks the account."""
        _check_password(password)
        with self._lock:
            users = self._load()
            u = self._get(users, name)
            u.update(hash=_hasher().hash(password), failed=0, locked_until=0, changed=_now())
            self._save(users)

    def set_role(self, name: str, role: str) -> None:
        _check_role(role)
        with self._lock:
            users = self._load()
            self._get(users, name).update(role=role, changed=_now())
            self._save(users)

    def unlock(self, name: str) -> None:
        with self._lock:
            users = self._load()
            self._get(users, name).update(failed=0, locked_until=0)
            self._save(users)

    def remove(self, name: str) -> None:
        with self._lock:
            users = self._load()
            self._get(users, name)
            del users[name]
            self._save(users)

    @staticmethod
    def _get(users: dict, name: str) -> dict:
        if name not in users:
            raise ValueError(f"no user named '{name}'")
        return users[name]

    # --------------------------------------------------------------------------- logging in
    def authenticate(self, name: str, password: str) -> User:
        """The user, if ``password`` is theirs and the account is not locked; else ``AuthError`` (the
        message never says whether the name exists). Failures count towards the lock-out."""
        from argon2.exceptions import InvalidHashError, VerificationError

        refused = AuthError("wrong user name or password")
        with self._lock:
            users = self._load()
            u = users.get(name or "")
            if u is None:
                _hasher().hash(password or "x")        # the same time as for a real user
                raise refused
            now = time.time()
            if u.get("locked_until", 0) > now:
                raise AuthError(f"'{name}' is locked after {LOCK_AFTER} wrong passwords, until "
                                f"{time.strftime('%H:%M', time.localtime(u['locked_until']))} (an administrator "
                                "can unlock it: sdgas users unlock)")
            try:
                ph = _hasher()
                ph.verify(u["hash"], password or "")
            except (VerificationError, InvalidHashError):
                u["failed"] = u.get("failed", 0) + 1
                if u["failed"] >= LOCK_AFTER:
                    u["locked_until"], u["failed"] = now + LOCK_S, 0
                self._save(users)
                raise refused from None
            changed = u.get("failed", 0) != 0
            if ph.check_needs_rehash(u["hash"]):
                u["hash"], changed = ph.hash(password), True
            u["failed"] = 0
            if changed:
                self._save(users)
            return User(name, u["role"])

    def sign(self, name: str, password: str, reason: str, action: str) -> Signature:
        """A signed change: the password again, a reason, and the role's right to ``action``."""
        if not (reason or "").strip():
            raise AuthError("a signed change needs a reason")
        user = self.authenticate(name, password)
        require(user, action)
        return Signature(user.name, user.role, reason.strip(), action)


def require(user: User | None, action: str) -> None:
    """``AuthError`` unless ``user`` may do ``action``."""
    if user is None or not user.may(action):
        who = f"{user.name} ({user.role})" if user else "nobody logged in"
        raise AuthError(f"{who} may not {action.replace('.', ' ')}: {least_role(action)} or above")


def least_role(action: str) -> str:
    return next((r for r in ("operator", "engineer", "administrator", "plc") if action in PERMISSIONS[r]), "administrator")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"'{role}': a role is one of {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def read_password(args, what: str = "password", confirm: bool = False) -> str:
    """A password for the command line: one line of standard input with ``--stdin``, else asked on the
    terminal (never an option: argv shows in ``ps``)."""
    import getpass
    import sys

    if getattr(args, "stdin", False):
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ValueError(f"no terminal to ask for the {what}: give it on standard input with --stdin")
    value = getpass.getpass(f"{what}: ")
    if confirm and getpass.getpass(f"{what} again: ") != value:
        raise ValueError(f"the two {what}s differ")
    return value
