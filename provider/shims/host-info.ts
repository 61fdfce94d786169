// The serialized provider of HostInfo resources: see ../shim.ts.
import { providerShim } from "../shim.js";

export = providerShim("host-info");
