import { renderMarkdown, safeUrl } from "./markdown";

const BASE = "https://help.example";

function html(source: string): string {
  const div = document.createElement("div");
  div.appendChild(renderMarkdown(source, BASE));
  return div.innerHTML;
}

describe("renderMarkdown", () => {
  it("renders paragraphs, line breaks, emphasis, code and lists", () => {
    expect(html("Hello **bold** and *soft*\nnext line\n\n- one\n- `two`\n\n1. first\n2. second")).toBe(
      "<p>Hello <strong>bold</strong> and <em>soft</em><br>next line</p>" +
        "<ul><li>one</li><li><code>two</code></li></ul><ol><li>first</li><li>second</li></ol>",
    );
  });

  it("keeps code blocks verbatim, even while the closing fence has not arrived", () => {
    expect(html("```\nconst a = '<b>';\n```")).toBe("<pre><code>const a = '&lt;b&gt;';</code></pre>");
    expect(html("```\nstill streaming")).toBe("<pre><code>still streaming</code></pre>");
  });

  it("shows HTML as text and never creates elements from it", () => {
    const div = document.createElement("div");
    div.appendChild(renderMarkdown('<img src=x onerror="alert(1)"><script>alert(2)</script>', BASE));
    expect(div.querySelector("img, script")).toBeNull();
    expect(div.textContent).toBe('<img src=x onerror="alert(1)"><script>alert(2)</script>');
  });

  it("opens safe links in a new tab and drops unsafe ones", () => {
    const div = document.createElement("div");
    div.appendChild(renderMarkdown("[help](/help/returns) [bad](javascript:alert(1)) [mail](mailto:a@b.c)", BASE));
    const links = [...div.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).toEqual([`${BASE}/help/returns`, "mailto:a@b.c"]);
    expect(links[0]?.target).toBe("_blank");
    expect(links[0]?.rel).toBe("noopener noreferrer");
    expect(div.textContent).toContain("bad");
  });

  it("renders a heading line as bold text", () => {
    expect(html("## Returns\nWithin 30 days.")).toBe("<p><strong>Returns</strong><br>Within 30 days.</p>");
  });
});

describe("safeUrl", () => {
  it("allows http, https and mailto only", () => {
    expect(safeUrl("https://x.example/a", BASE)).toBe("https://x.example/a");
    expect(safeUrl("data:text/html,hi", BASE)).toBeNull();
    expect(safeUrl("JAVASCRIPT:alert(1)", BASE)).toBeNull();
  });
});

describe("renderMarkdown images (pentest #18: a tracking pixel in an answer)", () => {
  function render(source: string, origins: string[] = []): HTMLDivElement {
    const div = document.createElement("div");
    div.appendChild(renderMarkdown(source, BASE, origins));
    return div;
  }

  it("shows an image from another host as a link to it, never loading it", () => {
    const div = render("See ![the receipt](https://tracker.example/p.png) here");
    expect(div.querySelector("img")).toBeNull();
    const link = div.querySelector("a");
    expect(link?.textContent).toBe("the receipt");
    expect(link?.getAttribute("href")).toBe("https://tracker.example/p.png");
    expect(div.textContent).toBe("See the receipt here");
  });

  it("labels the link with the address when the image has no description; unsafe ones are text", () => {
    expect(render("![](https://tracker.example/p.png)").querySelector("a")?.textContent).toBe(
      "https://tracker.example/p.png",
    );
    const bad = render("![x](javascript:alert)");
    expect(bad.querySelector("a, img")).toBeNull();
    expect(bad.textContent).toBe("x");
  });

  it("loads images from the server and the allowed origins only", () => {
    const div = render(
      "![a](https://img.example/a.png) ![b](/media/b.png) ![c](http://img.example/c.png) ![d](https://tracker.example/d.png)",
      ["https://img.example"],
    );
    const images = [...div.querySelectorAll("img")];
    expect(images.map((i) => i.getAttribute("src"))).toEqual(["https://img.example/a.png", `${BASE}/media/b.png`]);
    expect(images.map((i) => i.alt)).toEqual(["a", "b"]);
    expect(images[0]?.referrerPolicy).toBe("no-referrer");
    expect([...div.querySelectorAll("a")].map((a) => a.textContent)).toEqual(["c", "d"]);
  });
});
