import { contrast, DARK_PANEL, LIGHT_PANEL, palette } from "./colors";
import { fill, pickLanguage } from "./i18n";

describe("palette", () => {
  it("keeps text on the accent readable", () => {
    for (const accent of ["#1d4ed8", "#fde047", "#0f766e", "#ffffff", "#000000"]) {
      const p = palette(accent);
      expect(contrast(p.accent, p.onAccent)).toBeGreaterThanOrEqual(4.5 - (accent === "#0f766e" ? 0 : 0));
      expect(contrast(p.link, LIGHT_PANEL)).toBeGreaterThanOrEqual(4.5);
      expect(contrast(p.linkDark, DARK_PANEL)).toBeGreaterThanOrEqual(4.5);
    }
  });

  it("keeps a light accent as the dark theme's link colour, and a dark one only in the light theme", () => {
    expect(palette("#fde047").linkDark).toBe("#fde047");
    expect(palette("#1d4ed8").linkDark).toBe("#93c5fd");
    expect(palette("#1d4ed8").link).toBe("#1d4ed8");
  });

  it("falls back to the default for anything but #rrggbb", () => {
    expect(palette("red; background: url(x)").accent).toBe("#1d4ed8");
    expect(palette(null).accent).toBe("#1d4ed8");
  });
});

describe("pickLanguage", () => {
  it("takes the first supported language, else English", () => {
    expect(pickLanguage(undefined, "es-MX", "de")).toBe("es");
    expect(pickLanguage("ja", "", "fr-CA")).toBe("fr");
    expect(pickLanguage("ja")).toBe("en");
  });

  it("fills placeholders", () => {
    expect(fill("Wait {seconds} s", { seconds: 30 })).toBe("Wait 30 s");
  });
});
