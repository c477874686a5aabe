// A PLC from another stack than the station's: node-opcua (OPC UA) or modbus-serial (Modbus TCP).
// It runs one timing pattern of the handshake and prints what it saw as one JSON line.
//
//   node plc.js --transport opcua --url opc.tcp://127.0.0.1:4840 --pattern documented --count 200
//   node plc.js --transport modbus --url 127.0.0.1:5020 --pattern held --count 200
//
// Patterns (docs/line.md):
//   documented  Trigger↑, wait TriggerAck↑, Trigger↓, wait ResultValid↑, read, ResultAck↑,
//               wait ResultValid↓, ResultAck↓
//   held        Trigger↑ and held until the result is read: wait ResultValid↑, read, ResultAck↑,
//               wait ResultValid↓, then Trigger↓ and ResultAck↓, and the next Trigger↑ at once
//   burst       Trigger↑ Trigger↓ --count times as fast as the client can, then read every result
// Options: --recipe N (write RecipeIndex first), --disconnect-every K (drop the connection after
// the K-th Trigger↑ of a cycle and reconnect before reading its result), --timeout S.
// OPC UA security: --security POLICY:MODE (e.g. Basic256Sha256:SignAndEncrypt) with --cert FILE.pem
// --key FILE.pem --uri APPLICATION_URI (the client's own certificate) and --pki DIR (where node-opcua
// keeps the station's certificate); --user NAME logs in with the password in $PLC_PASSWORD (never argv).
"use strict";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const COUNT = parseInt(args.count || "10", 10);
const TIMEOUT_MS = 1000 * parseFloat(args.timeout || "30");
const DISCONNECT_EVERY = parseInt(args["disconnect-every"] || "0", 10);
const now = () => Number(process.hrtime.bigint()) / 1e6;

// ------------------------------------------------------------------------------------- OPC UA
async function opcua(url) {
  const { OPCUAClient, AttributeIds, DataType, MessageSecurityMode, SecurityPolicy, UserTokenType } =
    require("node-opcua-client");
  let client, session, ns;
  const types = { Trigger: DataType.Boolean, ResultAck: DataType.Boolean, RecipeIndex: DataType.Int32 };
  const nodeId = (name) => `ns=${ns};s=Station.${name}`;
  const io = {
    async connect() {
      const options = {
        endpointMustExist: false, securityMode: MessageSecurityMode.None, securityPolicy: SecurityPolicy.None,
        connectionStrategy: { maxRetry: args.security ? 2 : 50, initialDelay: 100, maxDelay: 500 },
        keepSessionAlive: false,
      };
      if (args.security) {
        const { OPCUACertificateManager } = require("node-opcua-certificate-manager");
        const [policy, mode] = args.security.split(":");
        const manager = new OPCUACertificateManager({ rootFolder: args.pki, automaticallyAcceptUnknownCertificate: true });
        await manager.initialize();
        Object.assign(options, { securityPolicy: SecurityPolicy[policy], securityMode: MessageSecurityMode[mode],
                                 certificateFile: args.cert, privateKeyFile: args.key, applicationUri: args.uri,
                                 clientCertificateManager: manager });
      }
      client = OPCUAClient.create(options);
      await client.connect(url);
      session = await client.createSession(args.user
        ? { type: UserTokenType.UserName, userName: args.user, password: process.env.PLC_PASSWORD }
        : undefined);
      const arr = await session.readNamespaceArray();
      ns = arr.indexOf("urn:sdgasnet:inspector");
      if (ns < 0) throw new Error("the station's namespace is missing");
    },
    async close() {
      await session.close();
      await client.disconnect();
    },
    async write(name, value) {
      const st = await session.write({ nodeId: nodeId(name), attributeId: AttributeIds.Value,
                                        value: { value: { dataType: types[name], value } } });
      if (st.value !== 0) throw new Error(`write ${name}=${value}: ${st.toString()}`);
    },
    async read(names) {
      const dvs = await session.read(names.map((n) => ({ nodeId: nodeId(n), attributeId: AttributeIds.Value })));
      const out = {};
      names.forEach((n, i) => { out[n] = dvs[i].value.value; });
      return out;
    },
  };
  return io;
}

// --------------------------------------------------------------------------------- Modbus TCP
async function modbus(spec) {
  const ModbusRTU = require("modbus-serial");
  const [host, port] = spec.split(":");
  let c;
  const DI = ["Ready", "Busy", "TriggerAck", "ResultValid", "Alive"];
  const u32 = (hi, lo) => hi * 65536 + lo;
  const i16 = (v) => (v >= 0x8000 ? v - 0x10000 : v);
  const i32 = (hi, lo) => { const v = u32(hi, lo); return v >= 0x80000000 ? v - 0x100000000 : v; };
  const VERDICT = ["", "OK", "NG", "ERROR"];
  const io = {
    async connect() {
      c = new ModbusRTU();
      await c.connectTCP(host, { port: parseInt(port, 10) });
      c.setID(1);
      c.setTimeout(5000);
    },
    async close() {
      await new Promise((resolve) => c.close(resolve));
    },
    async write(name, value) {
      if (name === "Trigger") await c.writeCoil(0, value);
      else if (name === "ResultAck") await c.writeCoil(1, value);
      else if (name === "RecipeIndex") await c.writeRegister(0, value);
    },
    async read(names) {
      const out = {};
      if (names.some((n) => DI.includes(n))) {
        const d = (await c.readDiscreteInputs(0, DI.length)).data;
        DI.forEach((n, i) => { out[n] = d[i]; });
      }
      if (names.some((n) => !DI.includes(n))) {
        const r = (await c.readInputRegisters(0, 12)).data;
        Object.assign(out, { Verdict: VERDICT[r[0]], DefectCount: r[1], ClassId: i16(r[2]), ErrorCode: r[3],
                             InspectionId: u32(r[4], r[5]), Heartbeat: r[6], StationError: r[7],
                             QueueDepth: r[8], FrameId: i32(r[9], r[10]), RecipeIndex: r[11] });
      }
      return out;
    },
  };
  return io;
}

// ----------------------------------------------------------------------------------- the PLC
const RESULT = ["InspectionId", "Verdict", "DefectCount", "ClassId", "ErrorCode", "FrameId", "StationError"];

async function main() {
  const io = args.transport === "modbus" ? await modbus(args.url) : await opcua(args.url);
  await io.connect();
  const until = async (name, value) => {
    const t0 = now();
    for (;;) {
      const v = (await io.read([name]))[name];
      if (v === value) return;
      if (now() - t0 > TIMEOUT_MS) throw new Error(`${name} never became ${value}`);
    }
  };
  const readResult = async () => {
    await until("ResultValid", true);
    const r = await io.read(RESULT);
    await io.write("ResultAck", true);
    await until("ResultValid", false);
    return r;
  };
  const out = { results: [], round_trips_ms: [], reconnects: 0 };
  const first = await io.read(["Ready", "Alive", "Heartbeat", "RecipeIndex", "StationError"]);
  out.first = first;
  if (args.recipe !== undefined) {
    await io.write("RecipeIndex", parseInt(args.recipe, 10));
    out.recipe_read_back = (await io.read(["RecipeIndex"])).RecipeIndex;
  }
  const pattern = args.pattern || "documented";
  if (pattern === "burst") {
    const t0 = now();
    for (let i = 0; i < COUNT; i++) {
      await io.write("Trigger", true);
      await io.write("Trigger", false);
    }
    out.burst_ms = now() - t0;
    for (let i = 0; i < COUNT; i++) {
      out.results.push(await readResult());
      await io.write("ResultAck", false);
    }
  } else {
    for (let i = 0; i < COUNT; i++) {
      const t0 = now();
      await io.write("Trigger", true);
      if (DISCONNECT_EVERY && (i + 1) % DISCONNECT_EVERY === 0) {   // the PLC drops off mid-cycle
        await io.close();
        await io.connect();
        out.reconnects++;
      }
      if (pattern === "documented") {
        await until("TriggerAck", true);
        await io.write("Trigger", false);
        await until("TriggerAck", false);
      }
      await until("ResultValid", true);
      out.round_trips_ms.push(now() - t0);
      const r = await io.read(RESULT);
      await io.write("ResultAck", true);
      await until("ResultValid", false);
      if (pattern === "held") await io.write("Trigger", false);
      await io.write("ResultAck", false);
      out.results.push(r);
    }
  }
  out.last = await io.read(["Ready", "Alive", "Heartbeat", "QueueDepth", "StationError"]);
  await io.close();
  return out;
}

// exit only once the JSON is out: a pipe takes large writes in pieces
main().then((out) => process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0)), (e) => {
  process.stderr.write(`PLC: ${e.stack || e}\n`);
  process.exit(1);
});
