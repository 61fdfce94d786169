/**
 * Benchmark: N parallel virsh calls over the pooled connection vs. N separate connections, and
 * the same calls in the host's virsh shell (one virsh on the pooled connection).
 * Prints figures; asserts nothing. Run after `npm run build` with the test host up:
 *   node bench/ssh-pool.mts [N]
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Host } from "../dist/provider/host/host.js";
import { dial } from "../dist/provider/ssh/dial.js";
import { execOnChannel } from "../dist/provider/ssh/exec.js";
import { closeAll, handshakeCount } from "../dist/provider/ssh/pool.js";
import { closeShells, runInShell } from "../dist/provider/libvirt/virsh-shell.js";

const n = Number(process.argv[2] ?? 50);
const root = path.resolve(import.meta.dirname, "..");
const th = JSON.parse(readFileSync(process.env["PULUMI_OVMF_TESTHOST"] ?? path.join(root, ".testhost/testhost.json"), "utf8"));
const spec = { host: th.host, port: th.port, user: th.user, privateKey: readFileSync(th.privateKeyPath, "utf8"), hostKey: th.hostKey };

const accepted = () => readFileSync(th.sshdLog, "utf8").split("\n").filter((l) => l.startsWith("Accepted ") && l.includes(" for root from ")).length;

async function pooled(argv: string[]) {
  closeAll();
  const before = accepted();
  const h0 = handshakeCount();
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: n }, () => new Host(spec).run(argv)));
  const ms = performance.now() - t0;
  if (results.some((r) => r.code !== 0)) throw new Error("a pooled call failed");
  closeAll();
  return { ms, handshakes: handshakeCount() - h0, sshdLogins: accepted() - before };
}

async function separate(argv: string[]) {
  const before = accepted();
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: n }, async () => {
      const d = await dial(spec, { attempts: 1 });
      try {
        return await execOnChannel(d.client, "bench", argv);
      } finally {
        d.close();
      }
    }),
  );
  const ms = performance.now() - t0;
  if (results.some((r) => r.code !== 0)) throw new Error("a separate-connection call failed");
  return { ms, handshakes: n, sshdLogins: accepted() - before };
}

async function inShell(argv: readonly string[]) {
  closeAll();
  const host = new Host(spec);
  const t0 = performance.now();
  // The virsh arguments after the connection URI ("-q -c URI").
  const results = await Promise.all(Array.from({ length: n }, () => runInShell(host, "qemu:///system", argv.slice(4))));
  const ms = performance.now() - t0;
  if (results.some((r) => r?.code !== 0)) throw new Error("a call in the shell failed or did not go there");
  closeShells();
  closeAll();
  return { ms };
}

for (const [label, argv] of [
  ["virsh version", ["virsh", "-q", "-c", "qemu:///system", "version", "--daemon"]],
  ["virsh list --all", ["virsh", "-q", "-c", "qemu:///system", "list", "--all", "--name"]],
] as const) {
  const p = await pooled([...argv]);
  const s = await separate([...argv]);
  const sh = await inShell(argv);
  console.log(`${n} parallel \`${label}\`: pool ${(p.ms / 1000).toFixed(2)} s over ${p.sshdLogins} sshd login(s) ` +
    `(${p.handshakes} handshake(s) counted by the pool); separate connections ${(s.ms / 1000).toFixed(2)} s over ${s.sshdLogins} logins; ` +
    `in the host's virsh shell ${(sh.ms / 1000).toFixed(2)} s (one virsh)`);
}
closeAll();
