import { apiFieldErrors, errorMessage, errorsByField, withLabel } from "./client";

describe("API errors", () => {
  const api422 = {
    error: "validation_error",
    detail: "question: Field required; answer: String should have at most 20000 characters",
    errors: [
      { field: "question", message: "Field required", type: "missing" },
      { field: "answer", message: "String should have at most 20000 characters", type: "string_too_long" },
    ],
  };

  it("reads the API's own field errors, one per field", () => {
    expect(errorsByField(api422)).toEqual({ question: "Field required", answer: "String should have at most 20000 characters" });
  });

  it("still reads FastAPI's default detail list", () => {
    const fastapi = { detail: [{ loc: ["body", "slug"], msg: "Value error, bad slug", type: "value_error" }] };
    expect(apiFieldErrors(fastapi)).toEqual([{ field: "slug", message: "bad slug", type: "value_error" }]);
  });

  it("reads a 400's single 'field: message' but not a summary of several", () => {
    expect(errorsByField({ detail: "answer: write an answer before publishing this FAQ" })).toEqual({
      answer: "write an answer before publishing this FAQ",
    });
    expect(apiFieldErrors({ detail: "No such FAQ" })).toEqual([]);
  });

  it("names fields by their translated labels, never the raw name", () => {
    const weak = { detail: "password: is too easy to guess", errors: [{ field: "password", message: "is too easy to guess" }] };
    expect(errorMessage(weak, "x", { password: "Passwort" })).toBe("Passwort: is too easy to guess");
    expect(errorMessage(api422, "x", { question: "Question", answer: "Answer" })).toBe(
      "Question: Field required; Answer: String should have at most 20000 characters",
    );
    expect(errorMessage({ errors: [{ field: "first_name", message: "Too long" }] })).toBe("First name: Too long");
    expect(errorMessage({ detail: "No such FAQ" })).toBe("No such FAQ");
    expect(errorMessage(undefined, "fallback")).toBe("fallback");
  });

  it("puts a message after its label", () => {
    expect(withLabel("email", "is not valid")).toBe("Email: is not valid");
  });
});
