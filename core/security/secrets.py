"""Secrets (the MQTT and PostgreSQL passwords, a service account's password): where they come from,
and keeping them out of everything the app writes.

A secret is found by name (``mqtt://user@host:port``, ``postgresql://user@host:port/db``,
``user/NAME``), in this order:

1. the environment: ``SDGAS_SECRET_<NAME>``, the name upper-cased with every other character ``_``
   (``secret_env_name`` says which, e.g. for a systemd ``EnvironmentFile=`` readable by root only);
2. the OS keyring, where the ``keyring`` package and a keyring service are present;
3. ``<app folder>/secrets.json``, readable by its owner only: a file others may read is refused.

Connection settings carry no password: ``split_password`` takes it out of a URL (or a libpq
``key=value`` string) for the store, ``redact`` masks it in any text shown or logged, and
``SecretFilter`` masks every secret this process has read in whatever reaches the log.
"""
from __future__ import annotations

import json
import logging
import os
import re
import stat
import urllib.parse
from pathlib import Path

from core.util.io import write_json
from core.util.paths import app_dir

MASK = "***"
KEYRING_SERVICE = "sdgas"
_known: set[str] = set()             # every secret this process has read: masked in logs (SecretFilter)
_URL_PW = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/\s:@]*):(?P<pw>[^@\s/]*)@", re.I)
_KV_PW = re.compile(r"(?P<head>\b(?:password|passwd|pwd|sslpassword)\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|[^\s&;]+)", re.I)


class SecretError(PermissionError):
    """A secret could not be read safely (a file others can read, a damaged file)."""


def secret_env_name(name: str) -> str:
    return "SDGAS_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def secrets_file() -> Path:
    return app_dir() / "secrets.json"


def _keyring():
    """The keyring module when a real keyring service answers, else None."""
    try:
        import keyring
        from keyring.backends import fail
    except Exception:  # noqa: BLE001 - optional: not installed, or no backend importable
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001
        return None
    if isinstance(backend, fail.Keyring) or "null" in type(backend).__name__.lower():
        return None
    return keyring


def _read_file(path: Path) -> dict:
    if not path.is_file():
        return {}
    st = path.stat()
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"{path}: readable by other users (mode {stat.S_IMODE(st.st_mode):04o}); "
                          f"secrets are not read from it until 'chmod 600 {path}'")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise SecretError(f"{path}: belongs to another user; secrets are read only from the owner's own file")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SecretError(f"{path}: unreadable secrets file ({e})") from None
    if not isinstance(data, dict):
        raise SecretError(f"{path}: unreadable secrets file (not a JSON object)")
    return {str(k): str(v) for k, v in data.items()}


def get_secret(name: str, path: Path | None = None) -> str | None:
    """The secret ``name`` (environment, keyring, then the owner-only file), or None."""
    value = os.environ.get(secret_env_name(name))
    if value is None:
        kr = _keyring()
        if kr is not None:
            try:
                value = kr.get_password(KEYRING_SERVICE, name)
            except Exception:  # noqa: BLE001 - a locked or broken keyring: the file next
                value = None
    if value is None:
        value = _read_file(path or secrets_file()).get(name)
    if value:
        remember(value)
    return value


def set_secret(name: str, value: str, path: Path | None = None) -> str:
    """Keep ``value`` under ``name``: in the keyring where there is one, else in the owner-only file.
    Returns where it went."""
    remember(value)
    kr = _keyring() if path is None else None
    if kr is not None:
        kr.set_password(KEYRING_SERVICE, name, value)
        return "the OS keyring"
    path = path or secrets_file()
    data = _read_file(path)
    data[name] = value
    write_json(path, data, mode=0o600)
    return str(path)


def remove_secret(name: str, path: Path | None = None) -> bool:
    path = path or secrets_file()
    found = False
    kr = _keyring()
    if kr is not None:
        try:
            kr.delete_password(KEYRING_SERVICE, name)
            found = True
        except Exception:  # noqa: BLE001 - not there
            pass
    data = _read_file(path)
    if name in data:
        del data[name]
        write_json(path, data, mode=0o600)
        found = True
    return found


def secret_names(path: Path | None = None) -> list[str]:
    """The names kept in the file (a keyring cannot be listed)."""
    return sorted(_read_file(path or secrets_file()))


def remember(value: str) -> None:
    """Mask ``value`` in every log line from now on."""
    if value and len(value) >= 3:
        _known.add(value)


# ------------------------------------------------------------------------- URLs and their passwords
def redact(text) -> str:
    """``text`` with every password masked: URL user info, ``password=`` parameters, and any secret read."""
    s = _URL_PW.sub(lambda m: f"{m['head']}:{MASK}@", str(text))
    s = _KV_PW.sub(lambda m: f"{m['head']}{MASK}", s)
    for v in sorted(_known, key=len, reverse=True):
        s = s.replace(v, MASK)
    return s


def split_password(target: str) -> tuple[str, str | None]:
    """(``target`` without its password, the password or None): a URL's user info or ``?password=``,
    or a libpq ``key=value`` string's ``password=``."""
    if "://" in target:
        u = urllib.parse.urlsplit(target)
        pw = u.password
        query = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
        for k, v in query:
            if k.lower() == "password":
                pw = pw or v
        if pw is None:
            return target, None
        netloc = u.hostname or ""
        if u.username:
            netloc = f"{urllib.parse.quote(urllib.parse.unquote(u.username), safe='')}@{netloc}"
        if ":" in (u.hostname or ""):
            netloc = netloc.replace(u.hostname, f"[{u.hostname}]")
        try:
            port = u.port
        except ValueError:
            port = None
        if port:
            netloc += f":{port}"
        q = urllib.parse.urlencode([(k, v) for k, v in query if k.lower() != "password"])
        return urllib.parse.urlunsplit((u.scheme, netloc, u.path, q, u.fragment)), urllib.parse.unquote(pw)
    m = _KV_PW.search(target)
    if not m:
        return target, None
    pw = m["pw"]
    if pw.startswith("'"):
        pw = pw[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    return " ".join((target[:m.start()] + target[m.end():]).split()), pw


def secret_name(target: str) -> str:
    """The name a connection's password is kept under: the URL with no password, query nor path
    beyond the database (``mqtt://user@host:1883``, ``postgresql://user@host:5432/db``)."""
    target, _ = split_password(target)
    if "://" not in target:                                   # libpq key=value
        kv = dict(re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", target))
        kv = {k: v.strip("'") for k, v in kv.items()}
        if "service" in kv:
            return f"postgresql://service={kv['service']}"
        return (f"postgresql://{kv.get('user', '')}@{kv.get('host', '')}:{kv.get('port', '5432')}/"
                f"{kv.get('dbname', '')}")
    u = urllib.parse.urlsplit(target)
    scheme = {"postgres": "postgresql", "tcp": "mqtt", "ssl": "mqtts"}.get(u.scheme, u.scheme)
    default = {"postgresql": 5432, "mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883}.get(scheme)
    try:
        port = u.port or default
    except ValueError:
        port = default
    db = u.path.strip("/").split("/")[0] if scheme == "postgresql" else ""
    return f"{scheme}://{u.username or ''}@{u.hostname or ''}:{port}" + (f"/{db}" if scheme == "postgresql" else "")


def refuse_password_in_argv(option: str, target: str | None) -> None:
    """A password typed on the command line is visible to every user of this PC (``ps``): refused."""
    if target and split_password(target)[1] is not None:
        name = secret_name(target)
        raise ValueError(f"{option} {redact(target)}: a password on the command line is visible to every user of "
                         f"this PC (ps). Leave it out and keep it in the secret store: 'sdgas secrets set {name}' "
                         f"(or the environment variable {secret_env_name(name)}; PostgreSQL also reads ~/.pgpass)")


class SecretFilter(logging.Filter):
    """Masks passwords and every secret read in each log record (installed on the root logger's handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as it is
            return True
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info, record.exc_text = None, text
        return True


def install_log_filter() -> None:
    """Every handler of the root logger (and those added later through ``logging.basicConfig``) masks secrets."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING)
    for h in root.handlers:
        if not any(isinstance(f, SecretFilter) for f in h.filters):
            h.addFilter(SecretFilter())
    if logging.lastResort is not None:
        logging.lastResort.addFilter(SecretFilter())
