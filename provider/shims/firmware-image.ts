// The serialized provider of FirmwareImage resources: see ../shim.ts.
import { providerShim } from "../shim.js";

export = providerShim("firmware-image");
