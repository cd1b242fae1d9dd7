import { keyBytes } from "./push";

describe("keyBytes", () => {
  it("decodes base64url without padding", () => {
    expect(Array.from(keyBytes("AQID-_8"))).toEqual([1, 2, 3, 251, 255]);
  });
  it("keeps a 65-byte public key whole", () => {
    const key = "B" + "A".repeat(86); // 87 characters of base64url: 65 bytes
    expect(keyBytes(key).length).toBe(65);
  });
});
