import * as pulumi from "@pulumi/pulumi";
import { connectionFromConfig, HostInfo } from "pulumi-ovmf";

const config = new pulumi.Config();

const info = new HostInfo("host", { connection: connectionFromConfig(config) });

export const libvirtVersion = info.libvirtVersion;
export const hypervisor = pulumi.interpolate`${info.hypervisor} ${info.hypervisorVersion}`;
