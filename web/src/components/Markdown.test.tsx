import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Markdown } from "./Markdown";

describe("Markdown", () => {
  it("renders formatting, lists and code blocks", () => {
    const { container } = render(<Markdown>{"**Bold** and a list:\n\n- one\n- two\n\n```\ncode here\n```"}</Markdown>);
    expect(container.querySelector("strong")?.textContent).toBe("Bold");
    expect(container.querySelectorAll("li")).toHaveLength(2);
    expect(container.querySelector("pre code")?.textContent).toBe("code here\n");
  });

  it("shows HTML as text instead of rendering it", () => {
    const { container } = render(<Markdown>{'Hi <img src=x onerror="alert(1)"> <script>alert(2)</script>'}</Markdown>);
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("script")).toBeNull();
    expect(container.textContent).toContain('<img src=x onerror="alert(1)">');
  });

  it("drops javascript: links and opens others in a new tab", () => {
    render(<Markdown>{"[bad](javascript:alert(1)) [good](https://example.com)"}</Markdown>);
    expect(screen.getByText("bad").getAttribute("href") ?? "").not.toContain("javascript");
    const good = screen.getByText("good");
    expect(good.getAttribute("target")).toBe("_blank");
    expect(good.getAttribute("rel")).toContain("noopener");
  });
});
