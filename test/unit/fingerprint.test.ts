import { describe, expect, it } from "vitest";
import { parseHostKeyPin, sha256Fingerprint } from "../../provider/ssh/fingerprint.js";

// Golden values: keys generated with ssh-keygen, fingerprints as `ssh-keygen -lf` printed them.
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDAxJLaC4MpmDjbozI1r/VZ/IL+G25KS+l9ykeA31f0d golden";
const ED25519_FP = "SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO/k50Q7TsyII";
const RSA_BLOB =
  "AAAAB3NzaC1yc2EAAAADAQABAAABAQDEb56GSDv8dZMC1UnaFJ4qETdLXNsGp2Qyo6G+bu6IwVs/DQ5ldbRLMVdYotoJhJFjbK1PldpdalnU1KuwkPtMYPDwzf6Zr39NyvqIV9lSiqQ0DrARbI58TiZnafAqDtw5agVWpMHQgu9fGIA8GwGWs491NgBOlC9hbGIdQpVhBdvekWzt4w3RwddP8Kmt1qkorthU/EkLE2+E6UP2vq4nJfCs8fuXnpG/7jj24fDcrpbgyOBbRnwefP9HHGSabvYxQUrcax+WUwAAm+gKIzRn1vqOdhwT8yKe+FpspQeaDLfDCIsSTU87SneMxP4zhO+kxwMIXRAzq4pGWI+HoY+P";
const RSA_FP = "SHA256:+Sds8SH5Z9ClelekgVqgelvEpngIthRgqHhyK/1DStY";

describe("sha256Fingerprint", () => {
  it("matches ssh-keygen -lf for ed25519 and rsa key blobs", () => {
    expect(sha256Fingerprint(Buffer.from(ED25519.split(" ")[1]!, "base64"))).toBe(ED25519_FP);
    expect(sha256Fingerprint(Buffer.from(RSA_BLOB, "base64"))).toBe(RSA_FP);
  });
});

describe("parseHostKeyPin", () => {
  it("accepts a bare fingerprint", () => {
    expect(parseHostKeyPin(ED25519_FP)).toBe(ED25519_FP);
  });
  it("accepts the whole line ssh-keygen -lf prints", () => {
    expect(parseHostKeyPin(`256 ${ED25519_FP} root@host (ED25519)`)).toBe(ED25519_FP);
  });
  it("turns a public key line into its fingerprint", () => {
    expect(parseHostKeyPin(ED25519)).toBe(ED25519_FP);
    expect(parseHostKeyPin(`ssh-rsa ${RSA_BLOB}`)).toBe(RSA_FP);
  });
  it("rejects MD5 fingerprints, truncated fingerprints and noise", () => {
    expect(parseHostKeyPin("MD5:12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0")).toBeUndefined();
    expect(parseHostKeyPin("SHA256:zhqhy7Maeo1geoyYva65h0vFSvYN6eiO")).toBeUndefined();
    expect(parseHostKeyPin("yes")).toBeUndefined();
    expect(parseHostKeyPin("")).toBeUndefined();
  });
});
