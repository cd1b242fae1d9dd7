import { render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
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

  describe("images (pentest #18: a tracking pixel in an answer)", () => {
    afterEach(() => document.querySelector('meta[name="helpline-image-origins"]')?.remove());

    function allow(origins: string): void {
      const meta = document.createElement("meta");
      meta.name = "helpline-image-origins";
      meta.content = origins;
      document.head.appendChild(meta);
    }

    it("shows an image from another host as a link to it, never loading it", () => {
      const { container } = render(<Markdown>{"See ![the receipt](https://tracker.example/p.png) here"}</Markdown>);
      expect(container.querySelector("img")).toBeNull();
      const link = screen.getByText("the receipt");
      expect(link.tagName).toBe("A");
      expect(link.getAttribute("href")).toBe("https://tracker.example/p.png");
      expect(link.getAttribute("rel")).toContain("noreferrer");
    });

    it("labels the link with the address when the image has no description", () => {
      const { container } = render(<Markdown>{"![](https://tracker.example/p.png)"}</Markdown>);
      expect(container.querySelector("img")).toBeNull();
      expect(container.querySelector("a")?.textContent).toBe("https://tracker.example/p.png");
    });

    it("covers reference-style images too", () => {
      const { container } = render(<Markdown>{"![pixel][t]\n\n[t]: https://tracker.example/p.png"}</Markdown>);
      expect(container.querySelector("img")).toBeNull();
      expect(container.querySelector("a")?.getAttribute("href")).toBe("https://tracker.example/p.png");
    });

    it("loads images from this site and from the origins the server allows", () => {
      allow("https://img.example https://cdn.example:8443");
      const { container } = render(
        <Markdown>
          {
            "![a](https://img.example/a.png) ![b](https://cdn.example:8443/b.png) ![c](/icons/c.png) " +
            "![d](http://img.example/d.png) ![e](https://img.example.evil/e.png) ![f](https://tracker.example/f.png)"
          }
        </Markdown>,
      );
      const images = [...container.querySelectorAll("img")];
      expect(images.map((i) => i.getAttribute("src"))).toEqual([
        "https://img.example/a.png",
        "https://cdn.example:8443/b.png",
        `${location.origin}/icons/c.png`,
      ]);
      expect(images[0]?.getAttribute("referrerpolicy")).toBe("no-referrer");
      expect([...container.querySelectorAll("a")].map((a) => a.textContent)).toEqual(["d", "e", "f"]);
    });
  });
});
