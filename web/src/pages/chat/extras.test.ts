import { isNearBottom } from "./extras";
import { citationsOf } from "./MessageList";

describe("isNearBottom", () => {
  it("is true within the slack of the end", () => {
    expect(isNearBottom(1000, 800, 1800)).toBe(true);
    expect(isNearBottom(930, 800, 1800)).toBe(true);
    expect(isNearBottom(900, 800, 1800)).toBe(false);
  });
});

describe("citationsOf", () => {
  it("maps each cited number to its article, skipping sources without a number or page", () => {
    const map = citationsOf(
      [
        { id: 4, question: "Reset", slug: "reset", score: 0.9, n: 2 },
        { id: 5, question: "Old", slug: null, score: 0.8, n: 1 },
        { id: 6, question: "Direct", slug: "direct", score: 0.7 },
      ],
      (n, title) => `Source ${n}: ${title}`,
    );
    expect([...map.entries()]).toEqual([[2, { href: "/help/reset", title: "Reset", label: "Source 2: Reset" }]]);
  });
});
