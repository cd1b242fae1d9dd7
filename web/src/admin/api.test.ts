import { fieldErrors } from "./api";

describe("fieldErrors", () => {
  const fields = ["question", "answer", "slug"];
  it("places FastAPI validation errors on their fields", () => {
    const error = { detail: [{ loc: ["body", "slug"], msg: "String should match pattern" }, { loc: ["body", "extra"], msg: "Extra inputs" }] };
    expect(fieldErrors(error, fields)).toEqual({ fields: { slug: "String should match pattern" }, other: "extra: Extra inputs" });
  });
  it("reads 'field: message' details and slug conflicts", () => {
    expect(fieldErrors({ detail: "answer: write an answer before publishing this FAQ" }, fields).fields).toEqual({
      answer: "write an answer before publishing this FAQ",
    });
    expect(fieldErrors({ detail: "The slug 'x' is already used; choose another" }, fields).fields.slug).toMatch(/already used/);
    expect(fieldErrors({ detail: "No such FAQ" }, fields)).toEqual({ fields: {}, other: "No such FAQ" });
  });
  it("puts each field's error on its own field, never merged under the first", () => {
    const error = {
      detail: "question: Field required; answer: String should have at least 1 character",
      errors: [
        { field: "question", message: "Field required" },
        { field: "answer", message: "String should have at least 1 character" },
      ],
    };
    expect(fieldErrors(error, fields)).toEqual({
      fields: { question: "Field required", answer: "String should have at least 1 character" },
      other: undefined,
    });
  });
});
