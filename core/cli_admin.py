"""The administrator's sub-commands: ``users``, ``certs`` (the OPC UA trust list), ``secrets``, ``audit``.

Passwords and secrets are never options (argv is visible to every user of the PC in ``ps``): they are
asked for on the terminal, or read as one line from standard input with ``--stdin``.
"""
from __future__ import annotations

from core.cli_args import add_action
from core.security.users import read_password


# ---------------------------------------------------------------------------------------- users
def cmd_users(args) -> int:
    from core.security.users import UserStore

    store = UserStore()
    act = args.users_command
    if act == "list":
        rows = store.list()
        for u in rows:
            print(f"{u['name']:<24} {u['role']:<14} {'LOCKED' if u['locked'] else '':<7} changed {u['changed']}")
        if not rows:
            print("no users: logins are off (sdgas users add NAME --role administrator)")
    elif act == "add":
        store.add(args.name, args.role, read_password(args, f"password for {args.name}", confirm=True))
        print(f"added '{args.name}' ({args.role}) to {store.path}")
    elif act == "passwd":
        store.set_password(args.name, read_password(args, f"new password for {args.name}", confirm=True))
        print(f"password of '{args.name}' changed (and the account unlocked)")
    elif act == "role":
        store.set_role(args.name, args.role)
        print(f"'{args.name}' is now {args.role}")
    elif act == "unlock":
        store.unlock(args.name)
        print(f"'{args.name}' unlocked")
    elif act == "remove":
        store.remove(args.name)
        print(f"removed '{args.name}'")
    return 0


# ---------------------------------------------------------------------------------------- certs
def cmd_certs(args) -> int:
    from core.security.pki import Pki

    pki = Pki()
    act = args.certs_command
    if act == "list":
        pki.ensure_own()
        for c in pki.list():
            print(c.line())
        print(f"(folders under {pki.root}; trust a rejected one with: sdgas certs trust THUMBPRINT)")
    elif act == "trust":
        c = pki.add_trusted(args.file) if args.file else pki.move(args.thumbprint or "", "trusted")
        print(f"trusted: {c.line()}")
    elif act == "reject":
        c = pki.move(args.thumbprint, "rejected")
        print(f"no longer trusted: {c.line()}")
    elif act == "show":
        if args.thumbprint in ("own", "station"):
            pki.ensure_own()
        c = pki.find(args.thumbprint)
        print(f"state         {c.state}\nsubject       {c.subject}\napplication   {c.application_uri}\n"
              f"valid until   {c.not_after}\nthumbprint    {c.thumbprint}\nfile          {c.path}")
    return 0


# -------------------------------------------------------------------------------------- secrets
def cmd_secrets(args) -> int:
    from core.security.secrets import remove_secret, secret_env_name, secret_name, secret_names, set_secret

    act = args.secrets_command
    if act == "list":
        for n in secret_names():
            print(n)
        return 0
    name = secret_name(args.name) if "://" in args.name or "=" in args.name else args.name
    if act == "set":
        where = set_secret(name, read_password(args, f"secret for {name}", confirm=not args.stdin))
        print(f"kept '{name}' in {where} (or set {secret_env_name(name)} in the service's environment)")
    elif act == "remove":
        print(f"removed '{name}'" if remove_secret(name) else f"no secret named '{name}' in the file")
    return 0


# ---------------------------------------------------------------------------------------- audit
def cmd_audit(args) -> int:
    from core.inspect.audit import export_audit, verify_audit

    if args.audit_command == "verify":
        report = verify_audit(args.db)
        print(report.text())
        return 0 if report.ok else 4
    for p in export_audit(args.db, args.format, args.out):
        print(f"written: {p}")
    return 0


def register(sub) -> None:
    from core.security.users import ROLES

    stdin_help = "read the password as one line from standard input"
    us = sub.add_parser("users", help="the station's users and roles (passwords asked for, never options)")
    usub = us.add_subparsers(dest="users_command", metavar="ACTION", required=True, parser_class=type(us))
    add_action(usub, "list", "users, roles and locked accounts", cmd_users)
    a = add_action(usub, "add", "a new user", cmd_users, "name")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument("--stdin", action="store_true", help=stdin_help)
    pw = add_action(usub, "passwd", "a new password (it also unlocks the account)", cmd_users, "name")
    pw.add_argument("--stdin", action="store_true", help=stdin_help)
    r = add_action(usub, "role", "change a user's role", cmd_users, "name")
    r.add_argument("role", choices=ROLES)
    add_action(usub, "unlock", "unlock an account locked after wrong passwords", cmd_users, "name")
    add_action(usub, "remove", "remove a user", cmd_users, "name")

    cs = sub.add_parser("certs", help="the OPC UA certificates: the station's own and the clients' trust list")
    csub = cs.add_subparsers(dest="certs_command", metavar="ACTION", required=True, parser_class=type(cs))
    add_action(csub, "list", "own, trusted and rejected certificates", cmd_certs)
    t = add_action(csub, "trust", "trust a rejected client (by thumbprint) or a certificate file", cmd_certs)
    t.add_argument("thumbprint", nargs="?", help="the start of its thumbprint, as certs list shows it")
    t.add_argument("--file", help="a client's certificate file (PEM or DER), e.g. exported from the PLC")
    add_action(csub, "reject", "stop trusting a client", cmd_certs, "thumbprint")
    add_action(csub, "show", "one certificate; 'own' is the station's (give it to the PLC to trust)", cmd_certs,
               "thumbprint")

    se = sub.add_parser("secrets", help="passwords of the line's connections (MQTT, PostgreSQL, service accounts)")
    ssub = se.add_subparsers(dest="secrets_command", metavar="ACTION", required=True, parser_class=type(se))
    add_action(ssub, "list", "the names kept in the secrets file", cmd_secrets)
    st = add_action(ssub, "set", "keep a password: NAME is a URL without it (mqtt://user@host:port, "
                                 "postgresql://user@host/db) or user/ACCOUNT", cmd_secrets, "name")
    st.add_argument("--stdin", action="store_true", help="read it as one line from standard input")
    add_action(ssub, "remove", "forget a password", cmd_secrets, "name")

    au = sub.add_parser("audit", help="the audit trail: verify its hash chain, export it")
    asub = au.add_subparsers(dest="audit_command", metavar="ACTION", required=True, parser_class=type(au))
    v = add_action(asub, "verify", "name the first row altered or removed (exit 4 if any)", cmd_audit)
    v.add_argument("--db", required=True, help="the records: a SQLite file or a postgresql:// URL")
    e = add_action(asub, "export", "the audit trail as PDF or CSV, with its verification", cmd_audit)
    e.add_argument("--db", required=True)
    e.add_argument("--format", required=True, choices=["pdf", "csv"])
    e.add_argument("--out", required=True)
