"""The PLC handshake over OPC UA (asyncua): the station is the server, the PLC a client.

Nodes, all ``ns=<urn:sdgasnet:inspector>;s=Station.<Name>``: the station's signals
(``handshake.SIGNALS``) and the PLC's writes ``Trigger``, ``ResultAck``, ``RecipeIndex``. The
handshake itself is ``handshake.py``; this file only carries it. Each client write reaches it
through the server's PostWrite callback, in the order written, and the station's answer is
written before the write returns. ``_address_space`` sets every node up in one place (where
security, users and access levels go).
"""
from __future__ import annotations

import contextlib
import logging
import urllib.parse

from .handshake import PLC_BITS, SIGNALS
from .line_server import LineServer

NAMESPACE = "urn:sdgasnet:inspector"
PLC_WRITES = (*PLC_BITS, "RecipeIndex")


def _variant_type(value, ua):
    return (ua.VariantType.Boolean if isinstance(value, bool) else ua.VariantType.String if isinstance(value, str)
            else ua.VariantType.Int32)


class OpcUaStation(LineServer):
    name = "opcua"
    kind = "client"

    def __init__(self, url: str, **context):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "opc.tcp" or not u.hostname:
            raise ValueError(f"--opcua {url}: expected opc.tcp://HOST:PORT")
        self.url = url
        super().__init__(url, **context)

    @contextlib.asynccontextmanager
    async def _serving(self):
        from asyncua import Server
        from asyncua.common.callback import CallbackType

        for name in ("asyncua", "asyncua.server", "asyncua.server.address_space", "asyncua.server.uaprocessor"):
            logging.getLogger(name).setLevel(logging.CRITICAL)   # its own lines would flood a headless log
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("SD-GASNet Inspector")
        self._nodes = await self._address_space(server)
        self._names = {nodeid: name for name, (nodeid, _) in self._nodes.items()}
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_write)
        self._server = server
        async with server:
            yield

    async def _address_space(self, server) -> dict:
        """Every node, once: {name: (NodeId, VariantType)}. Security policies, user tokens and access
        levels are set here."""
        from asyncua import ua

        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
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
            nodes[name] = (node.nodeid, vt)
        return nodes

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

    def _clients(self) -> int:
        return len(self._server.bserver.clients) if getattr(self._server, "bserver", None) else 0

    def _listening(self) -> bool:
        srv = getattr(getattr(self._server, "bserver", None), "_server", None)
        return srv is None or srv.is_serving()
