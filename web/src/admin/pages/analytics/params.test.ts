import { readFigure, readFilters } from "./params";

describe("analytics filters", () => {
  it("default to the last 30 days by day", () => {
    const f = readFilters(new URLSearchParams("tz=Europe/Paris"), new Date(2026, 10, 30));
    expect(f).toEqual({ from: "2026-11-01", to: "2026-11-30", granularity: "day", tz: "Europe/Paris" });
  });
  it("keep what the address says and drop what it cannot be", () => {
    const f = readFilters(new URLSearchParams("from=2026-01-01&to=2026-02-01&granularity=week&tz=UTC"));
    expect(f).toEqual({ from: "2026-01-01", to: "2026-02-01", granularity: "week", tz: "UTC" });
    expect(readFilters(new URLSearchParams("granularity=hour")).granularity).toBe("day");
    expect(readFigure(new URLSearchParams("figure=thumbs_down"))).toBe("thumbs_down");
    expect(readFigure(new URLSearchParams("figure=nope"))).toBeNull();
  });
});
