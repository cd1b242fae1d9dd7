import { isDirty } from "./useUnsavedChanges";

describe("isDirty", () => {
  it("compares form states by value", () => {
    expect(isDirty({ q: "a", tags: ["x"] }, { q: "a", tags: ["x"] })).toBe(false);
    expect(isDirty({ q: "a", tags: ["x"] }, { q: "a", tags: ["x", "y"] })).toBe(true);
    expect(isDirty({ q: "a" }, { q: "b" })).toBe(true);
  });
});
