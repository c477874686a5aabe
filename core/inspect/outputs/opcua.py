"""The PLC handshake over OPC UA (asyncua): the station is the server, the PLC a client.

Nodes, all ``ns=<urn:sdgasnet:inspector>;s=Station.<Name>``: the station's signals
(``handshake.SIGNALS``) and the PLC's writes ``Trigger``, ``ResultAck``, ``RecipeIndex``. The
handshake itself is ``handshake.py``; this file only carries it. Each client write reaches it
through the server's PostWrite callback, in the order written, and the station's answer is
written before the write returns. ``_address_space`` sets every node up in one place.

Security (docs/line.md, "Securing the station"): the endpoints are Basic256Sha256 and
Aes256_Sha256_RsaPss, Sign and SignAndEncrypt, with the station's own certificate
(``core.security.pki``); a client whose certificate is not on the trust list is refused and its
certificate kept in ``rejected/``. Clients log in with a user name of the station's users
(``core.security.users``). SecurityPolicy None and anonymous access are on only for an endpoint on
loopback, or when an administrator turns them on (``opcua_security="open"``), and then the station says so
(``on_state("warning", …)``). Every client reads every node; only the ``plc`` role (and, where it is
on, anonymous access) writes ``PLC_WRITES``; the station's own nodes are read-only; no client adds or
deletes nodes (no remote account is ever an asyncua Admin).
"""
from __future__ import annotations

import contextlib
import ipaddress
import logging
import urllib.parse

from .handshake import PLC_BITS, SIGNALS
from .line_server import LineServer

NAMESPACE = "urn:sdgasnet:inspector"
PLC_WRITES = (*PLC_BITS, "RecipeIndex")
SECURITY_MODES = ("auto", "strict", "open")   # where SecurityPolicy None and anonymous access are on


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _variant_type(value, ua):
    return (ua.VariantType.Boolean if isinstance(value, bool) else ua.VariantType.String if isinstance(value, str)
            else ua.VariantType.Int32)


class OpcUaStation(LineServer):
    name = "opcua"
    kind = "client"

    def __init__(self, url: str, opcua_security: str = "auto", users=None, pki=None, **context):
        """``opcua_security`` (``SECURITY_MODES``): ``auto`` opens SecurityPolicy None and anonymous
        access on loopback only, ``strict`` never, ``open`` on the network too (an administrator's
        explicit choice); ``users``, ``pki``: a ``UserStore`` and ``Pki`` (the app folder's)."""
        if opcua_security not in SECURITY_MODES:
            raise ValueError(f"--opcua-security {opcua_security}: choose {', '.join(SECURITY_MODES)}")
        u = urllib.parse.urlsplit(url)
        if u.scheme != "opc.tcp" or not u.hostname:
            raise ValueError(f"--opcua {url}: expected opc.tcp://HOST:PORT")
        self.url = url
        self.loopback = is_loopback(u.hostname)
        self.open_access = opcua_security == "open" or (opcua_security == "auto" and self.loopback)
        self._host = u.hostname
        self._users, self._pki = users, pki
        self.rejected: list = []                              # client certificates refused since start
        self._roles: dict[str, str] = {}                      # session user name -> role
        super().__init__(url, **context)

    @contextlib.asynccontextmanager
    async def _serving(self):
        from asyncua import Server
        from asyncua.common.callback import CallbackType

        for name in ("asyncua", "asyncua.server", "asyncua.server.address_space", "asyncua.server.uaprocessor"):
            logging.getLogger(name).setLevel(logging.CRITICAL)   # its own lines would flood a headless log
        server = Server(user_manager=_StationUsers(self))
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("SD-GASNet Inspector")
        await self._security(server)
        self._nodes = await self._address_space(server)
        self._names = {nodeid: name for name, (nodeid, _) in self._nodes.items()}
        server.subscribe_server_callback(CallbackType.PreWrite, self._may_write)
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_write)
        self._server = server
        async with server:
            yield

    async def _security(self, server) -> None:
        """The endpoints' policies, the identity tokens, the station's certificate and the trust list."""
        from asyncua import ua

        from core.security.pki import APP_URI, Pki
        from core.security.users import UserStore

        self._pki = self._pki or Pki()
        self._users = self._users or UserStore()
        cert, key = self._pki.ensure_own([self._host])
        await server.set_application_uri(APP_URI)
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        server.allow_remote_admin(False)
        P = ua.SecurityPolicyType
        policies = [P.Basic256Sha256_Sign, P.Basic256Sha256_SignAndEncrypt,
                    P.Aes256Sha256RsaPss_Sign, P.Aes256Sha256RsaPss_SignAndEncrypt]
        tokens = [ua.UserNameIdentityToken]
        if self.open_access:
            policies.insert(0, P.NoSecurity)
            tokens.append(ua.AnonymousIdentityToken)
            where = "on this PC only (loopback)" if self.loopback else "TURNED ON by an administrator for the network"
            self.on_state("warning", f"opcua {self.target}: SecurityPolicy None and anonymous access are on, {where}: "
                                     "any program that reaches the port may trigger and switch recipes")
        server.set_security_policy(policies)
        server.set_identity_tokens(tokens)
        if not self.open_access:
            # asyncua checks a client's certificate whatever its channel: with SecurityPolicy None open to
            # anyone, a certificate proves nothing more, and a None client that sends one is not refused
            server.set_certificate_validator(self._pki.validator(self._rejected))

    def _rejected(self, info) -> None:
        self.rejected.append(info)
        self.on_state("warning", f"opcua {self.target}: refused a client whose certificate is not trusted "
                                 f"({info.subject}, thumbprint {info.thumbprint[:16]}); kept in {info.path.parent}: "
                                 "an administrator trusts it with 'sdgas certs trust'")

    async def _address_space(self, server) -> dict:
        """Every node, once: {name: (NodeId, VariantType)}. The PLC's writes are writable, the station's
        own signals read-only (for every client: no remote account is an asyncua Admin)."""
        from asyncua import ua

        idx = await server.register_namespace(NAMESPACE)
        station = await server.nodes.objects.add_object(ua.NodeId("Station", idx), "Station")
        nodes = {}
        initial = {**SIGNALS, "ModelId": self.model_id, **{name: False for name in PLC_BITS},
                   "RecipeIndex": self.hs.signals["RecipeIndex"]}
        for name, value in initial.items():
            vt = _variant_type(value, ua)
            node = await station.add_variable(ua.NodeId(f"Station.{name}", idx), name, value, varianttype=vt)
            if name in PLC_WRITES:
                await node.set_writable()
            else:
                await node.set_read_only()
            nodes[name] = (node.nodeid, vt)
        return nodes

    async def _may_write(self, event, _dispatcher):
        """PreWrite: a write to the PLC's nodes from anyone but the PLC's account is refused whole."""
        from asyncua import ua
        from asyncua.common.utils import ServiceError

        user = event.user
        role = self._roles.get(getattr(user, "name", None) or "", "anonymous")
        if role == "plc" or (role == "anonymous" and self.open_access):
            return
        if any(self._names.get(wv.NodeId) in PLC_WRITES for wv in event.request_params.NodesToWrite):
            raise ServiceError(ua.StatusCodes.BadUserAccessDenied)

    async def _write_signal(self, name: str, value) -> None:
        from asyncua import ua

        nodeid, vt = self._nodes[name]
        await self._server.write_attribute_value(nodeid, ua.DataValue(ua.Variant(value, vt)))

    async def _on_write(self, event, _dispatcher):
        """PostWrite: every client write, after the server stored it, before the client hears back."""
        from asyncua import ua

        try:
            for wv, status in zip(event.request_params.NodesToWrite, event.response_params or ()):
                name = self._names.get(wv.NodeId)
                if name not in PLC_WRITES or wv.AttributeId != ua.AttributeIds.Value:
                    continue
                dv = wv.Value
                bad = (not status.is_good() or (dv.StatusCode is not None and not dv.StatusCode.is_good())
                       or dv.Value is None or dv.Value.Value is None)
                if bad:
                    self.hs.bad_write(name)
                    await self._restore(name)
                else:
                    self.hs.plc_write(name, dv.Value.Value)   # a refused RecipeIndex is written back by the flush
            await self._flush()
        except Exception as e:  # noqa: BLE001 - a PLC write must never take the server down
            logging.getLogger("sdgas.line").exception("opcua: a PLC write could not be handled: %s", e)
            self.hs.bad_write("?")

    async def _restore(self, name: str) -> None:
        """The node a refused write left (asyncua stores a bad-status write as null) gets its last good value."""
        value = self.hs.levels[name] if name in PLC_BITS else self.hs.signals[name]
        await self._write_signal(name, value)

    def state(self):
        """As every line server's, saying while SecurityPolicy None and anonymous access are on."""
        from dataclasses import replace

        st = super().state()
        if not self.open_access:
            return st
        note = "OPEN: SecurityPolicy None and anonymous access on" + (" (loopback)" if self.loopback else "")
        return replace(st, detail=f"{note}, {st.detail}" if st.detail else note)

    def _clients(self) -> int:
        return len(self._server.bserver.clients) if getattr(self._server, "bserver", None) else 0

    def _listening(self) -> bool:
        srv = getattr(getattr(self._server, "bserver", None), "_server", None)
        return srv is None or srv.is_serving()


class _StationUsers:
    """asyncua's user manager: a user name and password of the station's users, or anonymous where open
    access is on. Nobody is an asyncua Admin, so nobody adds or deletes nodes nor writes attributes."""

    def __init__(self, station: OpcUaStation):
        self.station = station

    def get_user(self, iserver, username=None, password=None, certificate=None):
        from asyncua.crypto.permission_rules import User, UserRole

        from core.security.users import AuthError

        st = self.station
        if username is None:
            return User(role=UserRole.User, name="") if st.open_access else None
        try:
            user = st._users.authenticate(username, password.decode() if isinstance(password, bytes) else password)
        except (AuthError, ValueError) as e:
            logging.getLogger("sdgas.line").warning("opcua: login of '%s' refused: %s", username, e)
            return None
        st._roles[user.name] = user.role
        return User(role=UserRole.User, name=user.name)
