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
