/**
 * The provider implementation, loaded by the serialized provider shim at call time as
 * `require("pulumi-ovmf/provider")` from the installed package. Keeping the code here (and not in
 * the serialized shim) keeps every resource's `__provider` state small and lets an upgraded package
 * serve old state.
 */
import { firmwareProvider } from "./firmware/provider.js";
import { hostInfoProvider } from "./host-info/provider.js";
import { nvramProvider } from "./nvram/provider.js";
import { q35DomainProvider } from "./q35-domain/provider.js";
import { tpmStateProvider } from "./tpm-state/provider.js";
import { traced } from "./ssh/trace.js";

/** Resource implementations by kind; the sdk's shims look them up by these names. */
export const providers = {
  "host-info": traced("HostInfo", hostInfoProvider),
  "firmware-image": traced("FirmwareImage", firmwareProvider),
  nvram: traced("Nvram", nvramProvider),
  "q35-domain": traced("Q35Domain", q35DomainProvider),
  "tpm-state": traced("TpmState", tpmStateProvider),
} as const;

export type ProviderKind = keyof typeof providers;
