// The serialized provider of Q35Domain resources: see ../shim.ts.
import { providerShim } from "../shim.js";

export = providerShim("q35-domain");
