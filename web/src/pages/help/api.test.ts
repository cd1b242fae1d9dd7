import { describe, expect, it } from "vitest";
import { deviceId, excerpt, findCategory, findCategoryById, summary, type Category } from "./api";

const now = "2026-01-01T00:00:00Z";
const categories: Category[] = [
  {
    id: 1, name: "Shipping", slug: "shipping", description: null, parent_id: null, sort_order: 0, created_at: now, updated_at: null,
    children: [
      { id: 2, name: "Returns", slug: "returns", description: null, parent_id: 1, sort_order: 0, created_at: now, updated_at: null },
    ],
  },
];

describe("summary", () => {
  it("is the answer's plain text, as the server writes the meta description", () => {
    expect(summary("**Open** the [Track](https://x.test) page:\n\n- enter `the number`")).toBe(
      "Open the Track page: - enter the number",
    );
  });

  it("cuts long answers on a word boundary", () => {
    const text = "word ".repeat(60);
    const cut = summary(text, 30);
    expect(cut.length).toBeLessThanOrEqual(30);
    expect(cut).toBe("word word word word word…"); // the server's _summary gives the same
  });
});

describe("excerpt", () => {
  it("drops list markers and tags from the text under a link", () => {
    expect(excerpt("Open it:\n\n- enter the number\n1. press Go\n\n<b>Never</b> share it. <img src=x>")).toBe(
      "Open it: enter the number press Go Never share it.",
    );
  });
});

describe("findCategory", () => {
  it("finds a top-level category and a subcategory with its parent", () => {
    expect(findCategory(categories, "shipping")?.category.id).toBe(1);
    const sub = findCategory(categories, "returns");
    expect(sub?.category.name).toBe("Returns");
    expect(sub?.parent?.slug).toBe("shipping");
    expect(findCategory(categories, "nope")).toBeUndefined();
    expect(findCategoryById(categories, 2)?.parent?.id).toBe(1);
    expect(findCategoryById(categories, null)).toBeUndefined();
  });
});

describe("deviceId", () => {
  it("is made once and kept", () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    const first = deviceId(storage);
    expect(first).toMatch(/^[A-Za-z0-9_-]{16,64}$/);
    expect(deviceId(storage)).toBe(first);
  });
  it("works without storage (a new one each time)", () => {
    const blocked = { getItem: () => { throw new Error("blocked"); }, setItem: () => { throw new Error("blocked"); } };
    expect(deviceId(blocked)).not.toBe(deviceId(blocked));
  });
});
