/**
 * The test host's domain type, decided exactly as a Q35Domain's domainType "auto" decides it: the
 * provider's own probe boots Debian's plain OVMF under KVM on the host and prints `kvm` only when
 * the firmware reaches its boot manager there, else `qemu` (its warning, with QEMU's reason, goes to
 * stderr). Needs the built package (npm run build).
 *   node scripts/kvm-probe.mts HOST PORT PRIVATE_KEY_PATH HOST_KEY
 */
import { readFileSync } from "node:fs";
import { Host } from "../dist/provider/host/host.js";
import { resolveDomainType } from "../dist/provider/libvirt/kvm-probe.js";
import { closeAll } from "../dist/provider/ssh/pool.js";

const [hostname, port, keyPath, hostKey] = process.argv.slice(2);
if (hostname === undefined || port === undefined || keyPath === undefined || hostKey === undefined) {
  console.error("usage: node scripts/kvm-probe.mts HOST PORT PRIVATE_KEY_PATH HOST_KEY");
  process.exit(2);
}
const host = new Host({ host: hostname, port: Number(port), user: "root", privateKey: readFileSync(keyPath, "utf8"), hostKey });
try {
  const type = await resolveDomainType(host, "auto", {
    codePath: "/usr/share/OVMF/OVMF_CODE_4M.fd",
    varsTemplatePath: "/usr/share/OVMF/OVMF_VARS_4M.fd",
    secureBoot: false,
    needsSmm: false,
    cpuMode: "host-passthrough",
  });
  console.log(type);
} finally {
  closeAll();
}
