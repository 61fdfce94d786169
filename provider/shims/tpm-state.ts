// The serialized provider of TpmState resources: see ../shim.ts.
import { providerShim } from "../shim.js";

export = providerShim("tpm-state");
