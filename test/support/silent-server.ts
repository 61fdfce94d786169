import { createServer, type Socket } from "node:net";

/**
 * A TCP server on 127.0.0.1 that accepts connections and then behaves as a hung host does: it
 * never says anything (or, with `greeting`, sends only that SSH identification line and stalls in
 * the key exchange). `closeFirst` connections are closed at once instead, as an sshd that drops
 * connections does. It closes itself after `lifetimeMs`, so that a test that fails never leaves
 * it behind.
 */
export interface SilentServer {
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

export async function silentServer(opts: { greeting?: string; closeFirst?: number; lifetimeMs?: number } = {}): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    // The client gives up by closing or resetting: neither is this server's failure.
    socket.on("error", () => undefined);
    if (accepted <= (opts.closeFirst ?? 0)) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    if (opts.greeting !== undefined) socket.write(`${opts.greeting}\r\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const close = () =>
    new Promise<void>((resolve) => {
      clearTimeout(bound);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  const bound = setTimeout(() => void close(), opts.lifetimeMs ?? 120_000);
  bound.unref();
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the silent server has no TCP port");
  return { port: address.port, accepted: () => accepted, close };
}
