"""The OPC UA endpoint secured: certificates on a trust list, user names of the station's users, access
levels. One station (``strict``: no SecurityPolicy None, no anonymous access, even on loopback) serves
the whole module; clients from asyncua and from node-opcua (another stack) connect to it.
"""
import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from servers import free_port

PLC_USER, PLC_PW = "plc-line3", "plc-password-1"
ENG_USER, ENG_PW = "eng-anna", "engineer-pw-1"


def _client_cert(folder: Path, uri: str, pem: bool = False):
    """A client's self-signed application certificate, as a PLC or an HMI makes its own."""
    from asyncua.crypto import cert_gen
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = cert_gen.generate_private_key()
    cert = cert_gen.generate_self_signed_app_certificate(
        key, uri.rsplit(":", 1)[-1], {}, [x509.UniformResourceIdentifier(uri), x509.DNSName("localhost")],
        extended=[ExtendedKeyUsageOID.CLIENT_AUTH])
    folder.mkdir(parents=True, exist_ok=True)
    c, k = folder / ("cert.pem" if pem else "cert.der"), folder / "key.pem"
    c.write_bytes(cert.public_bytes(Encoding.PEM if pem else Encoding.DER))
    k.write_bytes(cert_gen.dump_private_key_as_pem(key))
    return c, k, uri


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """A strict station with a PLC account and an engineer; SDGAS_HOME is the module's own."""
    from core.detector import Detector
    from core.inspect.options import InspectOptions
    from core.security.users import UserStore

    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("SDGAS_HOME")
    os.environ["SDGAS_HOME"] = str(home)
    users = UserStore()
    users.add(PLC_USER, "plc", PLC_PW)
    users.add(ENG_USER, "engineer", ENG_PW)
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    states = []
    opts = InspectOptions(source="demo", db=str(home / "r.sqlite"), demo_fps=0, imgsz=64, outputs={"opcua": url},
                          opcua_security="strict")
    s = Detector("demo", "cpu").inspect(opts, on_state=lambda st, m: states.append((st, m))).start()
    try:
        yield s, url, home, states
    finally:
        s.stop()
        if old is None:
            os.environ.pop("SDGAS_HOME", None)
        else:
            os.environ["SDGAS_HOME"] = old


async def _session(url, cert=None, user=None, password=None, policy="Basic256Sha256", mode="SignAndEncrypt"):
    from asyncua import Client

    c = Client(url, timeout=10)
    c.application_uri = cert[2] if cert else "urn:sdgas-test:client"
    if cert:
        await c.set_security_string(f"{policy},{mode},{cert[0]},{cert[1]}")
    if user:
        c.set_user(user)
        c.set_password(password)
    await c.connect()
    return c


def _refused(url, **kw) -> str:
    async def go():
        c = await _session(url, **kw)
        await c.disconnect()
    with pytest.raises(Exception) as e:      # noqa: PT011 - asyncua raises by status code; the text is checked
        asyncio.run(go())
    return f"{type(e.value).__name__}: {e.value}"


def test_a_client_without_a_trusted_certificate_is_refused_and_its_certificate_kept(station, tmp_path):
    from core.cli import main
    from core.security.pki import Pki

    s, url, home, states = station
    cert = _client_cert(tmp_path / "hmi", "urn:sdgas-test:stranger")
    why = _refused(url, cert=cert, user=PLC_USER, password=PLC_PW)
    assert "Untrusted" in why, why
    rejected = [c for c in Pki().list() if c.state == "rejected"]
    assert len(rejected) == 1 and "stranger" in rejected[0].subject
    assert any("not trusted" in m and rejected[0].thumbprint[:16] in m for st, m in states if st == "warning"), states
    # an administrator trusts it from the command line: the next try gets in (the station still runs)
    assert main(["certs", "trust", rejected[0].thumbprint[:10]]) == 0

    async def read():
        c = await _session(url, cert=cert, user=PLC_USER, password=PLC_PW)
        try:
            ns = await c.get_namespace_index("urn:sdgasnet:inspector")
            return await c.get_node(f"ns={ns};s=Station.Ready").read_value()
        finally:
            await c.disconnect()

    assert asyncio.run(read()) is True


def test_no_endpoint_without_security_and_no_anonymous_login(station, tmp_path):
    from asyncua import Client

    s, url, home, _ = station

    async def endpoints():
        c = Client(url, timeout=10)
        return await c.connect_and_get_server_endpoints()

    eps = asyncio.run(endpoints())
    policies = {e.SecurityPolicyUri.rsplit("#", 1)[-1] for e in eps}
    assert policies == {"Basic256Sha256", "Aes256_Sha256_RsaPss"}, policies
    assert {int(e.SecurityMode) for e in eps} == {2, 3}              # Sign, SignAndEncrypt
    assert all(t.TokenType.name == "UserName" for e in eps for t in e.UserIdentityTokens)
    cert = _trusted(tmp_path, "anon")
    assert "IdentityToken" in _refused(url, cert=cert)                # a trusted certificate, but no user
    assert "Denied" in _refused(url, cert=cert, user=PLC_USER, password="wrong-password")


def _trusted(tmp_path, name):
    from core.security.pki import Pki

    cert = _client_cert(tmp_path / name, f"urn:sdgas-test:{name}")
    Pki().add_trusted(cert[0])
    return cert


def test_the_plc_account_runs_the_handshake_over_aes256_and_others_may_only_read(station, tmp_path):
    """Trusted certificate + the PLC's user: one documented cycle. An engineer (trusted too) may read but
    not write Trigger nor the station's Verdict, and nobody deletes or adds a node."""
    from asyncua import ua

    s, url, home, _ = station
    cert = _trusted(tmp_path, "plc")

    async def cycle():
        c = await _session(url, cert=cert, user=PLC_USER, password=PLC_PW, policy="Aes256Sha256RsaPss")
        try:
            ns = await c.get_namespace_index("urn:sdgasnet:inspector")
            node = lambda n: c.get_node(f"ns={ns};s=Station.{n}")     # noqa: E731

            async def until(n, v):
                end = time.monotonic() + 20
                while await node(n).read_value() != v:
                    assert time.monotonic() < end, f"{n} never became {v}"
                    await asyncio.sleep(0.01)

            first = await node("InspectionId").read_value()
            await node("Trigger").write_value(ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))
            await until("TriggerAck", True)
            await node("Trigger").write_value(ua.DataValue(ua.Variant(False, ua.VariantType.Boolean)))
            await until("ResultValid", True)
            got = [await node(n).read_value() for n in ("InspectionId", "Verdict", "ErrorCode")]
            await node("ResultAck").write_value(ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))
            await until("ResultValid", False)
            await node("ResultAck").write_value(ua.DataValue(ua.Variant(False, ua.VariantType.Boolean)))
            # the PLC's account may not write the station's nodes either
            with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied|BadNotWritable"):
                await node("Verdict").write_value(ua.DataValue(ua.Variant("OK-SPOOFED", ua.VariantType.String)))
            return first, got
        finally:
            await c.disconnect()

    first, (iid, verdict, code) = asyncio.run(cycle())
    assert iid == first + 1 and verdict in ("OK", "NG") and code == 0

    eng = _trusted(tmp_path, "hmi")

    async def engineer():
        c = await _session(url, cert=eng, user=ENG_USER, password=ENG_PW, mode="Sign")
        try:
            ns = await c.get_namespace_index("urn:sdgasnet:inspector")
            node = lambda n: c.get_node(f"ns={ns};s=Station.{n}")     # noqa: E731
            before = await node("InspectionId").read_value()
            refused = []
            for name, value, vt in (("Trigger", True, ua.VariantType.Boolean),
                                    ("RecipeIndex", 1, ua.VariantType.Int32),
                                    ("Verdict", "OK-SPOOFED", ua.VariantType.String),
                                    ("DefectCount", 0, ua.VariantType.Int32),
                                    ("Heartbeat", 7, ua.VariantType.Int32)):
                try:
                    await node(name).write_value(ua.DataValue(ua.Variant(value, vt)))
                except ua.UaStatusCodeError as e:
                    refused.append((name, type(e).__name__))
            try:                     # refused for the whole request (secure channel) or per node
                _, deleted = await c.delete_nodes([node("Trigger")])
                refused.append(("delete", deleted[0].name))
            except ua.UaStatusCodeError as e:
                refused.append(("delete", type(e).__name__))
            try:
                await c.nodes.objects.add_variable(ua.NodeId("Station.Evil", ns), "Evil", 1)
                refused.append(("add", "Good"))
            except ua.UaStatusCodeError as e:
                refused.append(("add", type(e).__name__))
            after = [await node(n).read_value() for n in ("InspectionId", "Verdict", "RecipeIndex")]
            still = await node("Trigger").read_browse_name()
            return before, refused, after, still
        finally:
            await c.disconnect()

    before, refused, after, still = asyncio.run(engineer())
    assert [n for n, _ in refused[:5]] == ["Trigger", "RecipeIndex", "Verdict", "DefectCount", "Heartbeat"], refused
    assert all("Denied" in why or "NotWritable" in why for _, why in refused[:5]), refused
    assert all("Denied" in why for _, why in refused[5:]), refused
    assert after[0] == before and after[1] != "OK-SPOOFED" and after[2] == 0
    assert still.Name == "Trigger"
    assert s.recipe.name == "default"


def test_node_opcua_plc_with_a_certificate_and_a_user_runs_the_handshake(station, tmp_path):
    """A PLC from another stack (node-opcua) over Basic256Sha256 SignAndEncrypt, with its certificate on
    the trust list and the PLC's user name; its password comes through the environment, not argv."""
    from test_plc import PLC

    node = shutil.which("node")
    if not node or not (PLC / "node_modules" / "node-opcua-client").is_dir():
        from servers import _missing
        _missing("node with tests/plc_node's packages (npm ci --prefix tests/plc_node)")
    s, url, home, _ = station
    cert = _client_cert(tmp_path / "node", "urn:sdgas-test:node-plc", pem=True)
    from core.security.pki import Pki

    Pki().add_trusted(cert[0])
    env = {**os.environ, "PLC_PASSWORD": PLC_PW}
    p = subprocess.run([node, str(PLC / "plc.js"), "--transport", "opcua", "--url", url, "--pattern", "documented",
                        "--count", "5", "--timeout", "30", "--security", "Basic256Sha256:SignAndEncrypt",
                        "--cert", str(cert[0]), "--key", str(cert[1]), "--uri", cert[2], "--user", PLC_USER,
                        "--pki", str(tmp_path / "node-pki")],
                       capture_output=True, text=True, timeout=180, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    import json

    out = json.loads(p.stdout.strip().splitlines()[-1])
    ids = [r["InspectionId"] for r in out["results"]]
    assert ids == list(range(ids[0], ids[0] + 5)) and all(r["ErrorCode"] == 0 for r in out["results"])
    # the same PLC without its user: refused
    p = subprocess.run([node, str(PLC / "plc.js"), "--transport", "opcua", "--url", url, "--count", "1",
                        "--timeout", "10", "--security", "Basic256Sha256:SignAndEncrypt", "--cert", str(cert[0]),
                        "--key", str(cert[1]), "--uri", cert[2], "--pki", str(tmp_path / "node-pki")],
                       capture_output=True, text=True, timeout=120, env={**os.environ})
    assert p.returncode != 0 and ("IdentityToken" in p.stderr or "Denied" in p.stderr or "denied" in p.stderr), \
        p.stderr[-2000:]


def test_a_loopback_station_says_that_open_access_is_on(tmp_path, monkeypatch):
    """``auto`` on loopback keeps SecurityPolicy None and anonymous access (the PLC tests use them) and
    says so; anonymous may write the PLC's nodes there but never the station's."""
    from asyncua import Client, ua

    from core.detector import Detector

    monkeypatch.setenv("SDGAS_HOME", str(tmp_path))
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    states = []
    s = Detector("demo", "cpu").inspect("demo", db=str(tmp_path / "r.sqlite"), demo_fps=0, imgsz=64,
                                        outputs={"opcua": url}, on_state=lambda st, m: states.append((st, m))).start()
    try:
        async def anon():
            async with Client(url, timeout=10) as c:
                ns = await c.get_namespace_index("urn:sdgasnet:inspector")
                await c.get_node(f"ns={ns};s=Station.RecipeIndex").write_value(
                    ua.DataValue(ua.Variant(0, ua.VariantType.Int32)))
                with pytest.raises(ua.UaStatusCodeError):
                    await c.get_node(f"ns={ns};s=Station.Verdict").write_value(
                        ua.DataValue(ua.Variant("OK-SPOOFED", ua.VariantType.String)))
                try:
                    _, deleted = await c.delete_nodes([c.get_node(f"ns={ns};s=Station.Trigger")])
                    deleted = deleted[0].name
                except ua.UaStatusCodeError as e:
                    deleted = type(e).__name__
                still = await c.get_node(f"ns={ns};s=Station.Trigger").read_browse_name()
                return await c.get_node(f"ns={ns};s=Station.Verdict").read_value(), deleted, still.Name

        verdict, deleted, still = asyncio.run(anon())
        assert verdict != "OK-SPOOFED" and "Denied" in deleted and still == "Trigger"
    finally:
        s.stop()
    assert any(st == "warning" and "anonymous access are on" in m and "loopback" in m for st, m in states), states
    key = Path(tmp_path / "pki" / "own" / "key.pem")
    assert key.stat().st_mode & 0o777 == 0o600
