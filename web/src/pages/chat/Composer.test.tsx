import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import "../../i18n";
import { Composer } from "./Composer";
import { loadDraft, saveDraft } from "./drafts";

function setup(onSend: (text: string) => Promise<boolean>, draftId: number | "new" = 5) {
  const props = { onSend: vi.fn(onSend), onStop: vi.fn(), streaming: false };
  const view = render(<Composer draftId={draftId} {...props} />);
  return { ...props, view, box: screen.getByRole("textbox", { name: "Message" }) };
}

beforeEach(() => localStorage.clear());

describe("Composer", () => {
  it("saves the draft per conversation as the user types, and restores it", async () => {
    const { box, view } = setup(() => Promise.resolve(true));
    await userEvent.type(box, "Where is my parcel?");
    expect(loadDraft(5)).toBe("Where is my parcel?");
    expect(loadDraft("new")).toBe("");
    view.unmount();
    setup(() => Promise.resolve(true));
    expect(screen.getByRole("textbox", { name: "Message" })).toHaveValue("Where is my parcel?");
  });

  it("shows each conversation's own draft when switching", () => {
    saveDraft(1, "first");
    saveDraft(2, "second");
    const props = { onSend: vi.fn(), onStop: vi.fn(), streaming: false };
    const { rerender } = render(<Composer draftId={1} {...props} />);
    expect(screen.getByRole("textbox", { name: "Message" })).toHaveValue("first");
    rerender(<Composer draftId={2} {...props} />);
    expect(screen.getByRole("textbox", { name: "Message" })).toHaveValue("second");
  });

  it("sends on Enter, keeps Shift+Enter as a new line, and clears the draft once sent", async () => {
    const { box, onSend } = setup(() => Promise.resolve(true));
    await userEvent.type(box, "line one{Shift>}{Enter}{/Shift}line two");
    expect(box).toHaveValue("line one\nline two");
    expect(onSend).not.toHaveBeenCalled();
    await userEvent.type(box, "{Enter}");
    expect(onSend).toHaveBeenCalledWith("line one\nline two");
    expect(box).toHaveValue("");
    expect(loadDraft(5)).toBe("");
  });

  it("gives the text back and keeps the draft when the message was not sent", async () => {
    let refuse: (ok: boolean) => void = () => undefined;
    const { box } = setup(() => new Promise<boolean>((r) => (refuse = r)));
    await userEvent.type(box, "Hello there");
    await userEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(box).toHaveValue("");
    await act(async () => refuse(false));
    expect(box).toHaveValue("Hello there");
    expect(loadDraft(5)).toBe("Hello there");
  });

  it("moves what was typed meanwhile to the new conversation once it has its id", async () => {
    let accept: (ok: boolean) => void = () => undefined;
    const onSend = vi.fn(() => new Promise<boolean>((r) => (accept = r)));
    const props = { onSend, onStop: vi.fn(), streaming: false };
    const { rerender } = render(<Composer draftId="new" {...props} />);
    const box = screen.getByRole("textbox", { name: "Message" });
    await userEvent.type(box, "First question{Enter}");
    await userEvent.type(box, "next");
    rerender(<Composer draftId={42} {...props} />);
    await act(async () => accept(true));
    expect(screen.getByRole("textbox", { name: "Message" })).toHaveValue("next");
    expect(loadDraft(42)).toBe("next");
    expect(loadDraft("new")).toBe("");
  });

  it("offers Stop instead of Send while an answer streams", async () => {
    const onStop = vi.fn();
    render(<Composer draftId={1} onSend={vi.fn()} onStop={onStop} streaming />);
    expect(screen.queryByRole("button", { name: "Send" })).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Stop" }));
    expect(onStop).toHaveBeenCalled();
  });
});
