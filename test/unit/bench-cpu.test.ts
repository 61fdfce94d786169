import { describe, expect, it } from "vitest";
import { grouped, secondsByName } from "../../bench/cpu.mts";

describe("the fleet benchmark's --cpu summary", () => {
  it("sums perf's cpu-clock periods by process name, names with spaces included", () => {
    const text = ["            node  7245     250000 ", "    npm install  7245     250000", "  virsh  9001  500000", "virsh 9002 500000", "garbage line"].join("\n");
    const by = secondsByName(text);
    expect(by.get("node")).toBeCloseTo(0.00025);
    expect(by.get("npm install")).toBeCloseTo(0.00025);
    expect(by.get("virsh")).toBeCloseTo(0.001);
    expect(by.size).toBe(3);
  });
  it("groups engine, Node, sshd, virsh, libvirtd and idle, and names the largest of the rest", () => {
    const by = new Map([
      ["swapper", 2],
      ["pulumi", 3],
      ["node", 4],
      ["libuv-worker", 0.5],
      ["sshd", 0.25],
      ["virsh", 1],
      ["rpc-libvirtd", 0.1],
      ["sha256sum", 0.3],
      ["sh", 0.2],
      ["perf", 0.4],
    ]);
    expect(grouped(by)).toBe(
      "CPU busy 9.35 s, idle 2.00 s: engine 3.00, node 4.50, language host 0.00, sshd 0.25, virsh 1.00, libvirtd 0.10, other 0.50 (sha256sum 0.30, sh 0.20)",
    );
  });
});
