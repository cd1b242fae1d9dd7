import { describe, expect, it } from "vitest";
import { formatTerms, parseTerms, termsProblem } from "./terms";

describe("synonym terms", () => {
  it("are read from a comma-separated line, normalised like the API does", () => {
    expect(parseTerms(" Parcel,PACKAGE ;  money   back\nShipment’s, ,")).toEqual(["parcel", "package", "money back", "shipment's"]);
    expect(parseTerms("")).toEqual([]);
  });

  it("make a set of 2 to 20 different terms of at most 60 characters", () => {
    expect(termsProblem(["parcel", "package"])).toBeNull();
    expect(termsProblem(["parcel"])).toEqual({ kind: "tooFew" });
    expect(termsProblem(Array.from({ length: 21 }, (_, i) => `t${i}`))).toEqual({ kind: "tooMany" });
    expect(termsProblem(["parcel", "x".repeat(61)])).toEqual({ kind: "tooLong", term: "x".repeat(61) });
    expect(termsProblem(parseTerms("parcel, Parcel"))).toEqual({ kind: "twice", term: "parcel" });
  });

  it("are shown back as they are typed", () => {
    expect(parseTerms(formatTerms(["parcel", "money back"]))).toEqual(["parcel", "money back"]);
  });
});
