import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import "../../../i18n";
import { MarkdownEditor } from "./MarkdownEditor";

function Editor({ initial = "" }: { initial?: string }) {
  const [value, setValue] = useState(initial);
  return <MarkdownEditor label="Answer" value={value} onChange={setValue} error={value.length > 40 ? "too long" : undefined} />;
}

describe("MarkdownEditor", () => {
  it("renders the preview as the answer is typed", async () => {
    render(<Editor />);
    const preview = screen.getByRole("region", { name: "Preview" });
    expect(preview).toHaveTextContent("The answer appears here");
    await userEvent.type(screen.getByRole("textbox", { name: "Answer" }), "Use **bold** and:{Enter}{Enter}- one{Enter}- two");
    expect(preview.querySelector("strong")).toHaveTextContent("bold");
    expect(preview.querySelectorAll("li")).toHaveLength(2);
    expect(preview).not.toHaveTextContent("The answer appears here");
  });

  it("shows HTML in the answer as text, never as elements", () => {
    render(<Editor initial={'<img src=x onerror="alert(1)"> <b>hi</b> <script>alert(2)</script>'} />);
    const preview = screen.getByRole("region", { name: "Preview" });
    expect(preview).toHaveTextContent("<b>hi</b>");
    expect(preview.querySelector("img, b, script")).toBeNull();
  });

  it("ties the API's message to the textarea", async () => {
    render(<Editor initial={"x".repeat(41)} />);
    const box = screen.getByRole("textbox", { name: "Answer" });
    expect(box).toHaveAttribute("aria-invalid", "true");
    expect(box).toHaveAccessibleDescription("too long");
  });
});
