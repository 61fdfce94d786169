// The serialized provider of Nvram resources: see ../shim.ts.
import { providerShim } from "../shim.js";

export = providerShim("nvram");
