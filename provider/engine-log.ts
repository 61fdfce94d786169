import { createRequire } from "node:module";

/**
 * Warnings from the provider to the person running `pulumi preview`/`up`. Pulumi starts dynamic
 * providers with the engine's address as their first argument, but the dynamic provider API offers
 * no way to log; this sends the engine's own Log call there (shown as `warning:` in the output).
 * Outside the engine (the integration tests), warnings go to the sink set with {@link setWarningSink},
 * else to stderr.
 */

type Sink = (message: string) => void;
const SINK = Symbol.for("pulumi-ovmf.warning-sink");
const g = globalThis as { [SINK]?: { sink: Sink | undefined } };

/** Where warnings go when there is no engine (tests); returns the previous sink. */
export function setWarningSink(sink: Sink | undefined): Sink | undefined {
  const previous = g[SINK]?.sink;
  g[SINK] = { sink };
  return previous;
}

interface EngineClient {
  log(request: unknown, callback: (err: Error | null) => void): void;
}
interface LogRequest {
  setSeverity(s: number): void;
  setMessage(m: string): void;
  setUrn(u: string): void;
}
interface EngineProto {
  LogRequest: new () => LogRequest;
  LogSeverity: { WARNING: number; INFO: number };
}

let client: { engine: EngineClient; proto: EngineProto } | null | undefined;

function engineClient(): { engine: EngineClient; proto: EngineProto } | null {
  if (client !== undefined) return client;
  client = null;
  const addr = process.argv[2];
  if (!/dynamic-provider/.test(process.argv[1] ?? "") || addr === undefined || !/^[\w.[\]:-]+:\d+$/.test(addr)) return client;
  try {
    const req = createRequire(require.resolve("@pulumi/pulumi/package.json"));
    const grpc = req("@grpc/grpc-js") as { credentials: { createInsecure(): unknown } };
    const rpc = req("./proto/engine_grpc_pb") as { EngineClient: new (addr: string, creds: unknown) => EngineClient };
    client = { engine: new rpc.EngineClient(addr, grpc.credentials.createInsecure()), proto: req("./proto/engine_pb") as EngineProto };
  } catch {
    client = null;
  }
  return client;
}

/** Shows `message` as a warning of this Pulumi operation. Never throws. */
export function warn(message: string): Promise<void> {
  return log("warning", message);
}

/** Shows `message` as information in this Pulumi operation's output (e.g. what an update will do). Never throws. */
export function info(message: string): Promise<void> {
  return log("info", message);
}

async function log(severity: "warning" | "info", message: string): Promise<void> {
  const sink = g[SINK]?.sink;
  if (sink !== undefined) return sink(severity === "info" ? `info: ${message}` : message);
  const c = engineClient();
  if (c === null) {
    process.stderr.write(`${severity}: ${message}\n`);
    return;
  }
  const request = new c.proto.LogRequest();
  request.setSeverity(severity === "info" ? c.proto.LogSeverity.INFO : c.proto.LogSeverity.WARNING);
  request.setMessage(message);
  request.setUrn("");
  await new Promise<void>((resolve) => c.engine.log(request, () => resolve()));
}
