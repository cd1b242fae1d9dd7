import { scrollEdges } from "./useScrollEdges";

describe("scrollEdges", () => {
  it("says which sides hide more", () => {
    expect(scrollEdges(0, 390, 390)).toEqual({ start: false, end: false });
    expect(scrollEdges(0, 390, 900)).toEqual({ start: false, end: true });
    expect(scrollEdges(200, 390, 900)).toEqual({ start: true, end: true });
    expect(scrollEdges(510, 390, 900)).toEqual({ start: true, end: false });
    expect(scrollEdges(509.5, 390, 900)).toEqual({ start: true, end: false });
  });
});
