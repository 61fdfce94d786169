import * as pulumi from "@pulumi/pulumi";
import { HostInfo } from "pulumi-ovmf";

const config = new pulumi.Config();

const info = new HostInfo("host", {
  connection: {
    host: config.require("host"),
    port: config.getNumber("port") ?? 22,
    user: config.get("user") ?? "root",
    privateKey: config.requireSecret("privateKey"),
    hostKey: config.require("hostKey"),
  },
});

export const libvirtVersion = info.libvirtVersion;
export const hypervisor = pulumi.interpolate`${info.hypervisor} ${info.hypervisorVersion}`;
