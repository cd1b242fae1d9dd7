import { applyTheme, resolveTheme, savedTheme } from "./theme";

describe("theme", () => {
  it("follows the system until the user chooses", () => {
    expect(resolveTheme(null, true)).toBe("dark");
    expect(resolveTheme(null, false)).toBe("light");
    expect(resolveTheme("light", true)).toBe("light");
    expect(resolveTheme("dark", false)).toBe("dark");
  });
  it("ignores a saved value that is not a theme", () => {
    expect(savedTheme("dark")).toBe("dark");
    expect(savedTheme("purple")).toBeNull();
    expect(savedTheme(null)).toBeNull();
  });
  it("sets <html data-theme>", () => {
    applyTheme("dark");
    expect(document.documentElement.dataset.theme).toBe("dark");
  });
});
