import { render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import "../i18n";
import { splitCitations, type Citation } from "./citations";
import { Markdown } from "./Markdown";

describe("splitCitations", () => {
  it("splits out the markers of known sources and leaves other numbers as text", () => {
    const known = (n: number) => n === 1 || n === 2;
    expect(splitCitations("Reset it in Settings [1][2]. See [7].", known)).toEqual(["Reset it in Settings ", { n: 1 }, { n: 2 }, ". See [7]."]);
    expect(splitCitations("[1]", known)).toEqual([{ n: 1 }]);
    expect(splitCitations("no markers", known)).toEqual(["no markers"]);
  });
});

describe("Markdown citations", () => {
  it("links known markers to their article, not those in code", () => {
    const citations = new Map<number, Citation>([[1, { href: "/help/reset", title: "Reset", label: "Source 1: Reset" }]]);
    render(
      <MemoryRouter>
        <Markdown citations={citations}>{"Open **Settings** [1] and [3].\n\n`a[1]`"}</Markdown>
      </MemoryRouter>,
    );
    const link = screen.getByRole("link", { name: "Source 1: Reset" });
    expect(link).toHaveAttribute("href", "/help/reset");
    expect(link).toHaveTextContent("[1]");
    expect(link).not.toHaveAttribute("target");
    expect(screen.getAllByRole("link")).toHaveLength(1);
    expect(screen.getByText(/and \[3\]/)).toBeInTheDocument();
  });
});

describe("Markdown code", () => {
  it("highlights fenced code once the highlighter has loaded, and offers to copy it", async () => {
    const { container } = render(
      <MemoryRouter>
        <Markdown>{"Use:\n\n```python\nimport helpline\ndef ask():\n    return 1\n```"}</Markdown>
      </MemoryRouter>,
    );
    await vi.waitFor(() => expect(container.querySelector(".hljs-keyword")).not.toBeNull(), { timeout: 5000 });
    expect(container.querySelector("pre code")).toHaveTextContent("import helpline");
    expect(screen.getByRole("button", { name: "Copy code" })).toBeInTheDocument();
  });
});

describe("Markdown after the highlighter loaded", () => {
  it("renders text without code too (the loaded plugin is kept as a plugin, not called)", async () => {
    const first = render(<Markdown>{"```js\nlet a = 1\n```"}</Markdown>);
    await vi.waitFor(() => expect(first.container.querySelector(".hljs-keyword")).not.toBeNull(), { timeout: 5000 });
    const { container } = render(<Markdown>{"Plain words, **bold**."}</Markdown>);
    expect(container.querySelector("strong")).toHaveTextContent("bold");
  });
});
