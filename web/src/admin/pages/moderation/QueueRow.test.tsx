import { fireEvent, render, screen, within } from "@testing-library/react";
import "../../../i18n";
import { QueueRow, type QueueItem } from "./QueueRow";

const item: QueueItem = {
  message_id: 7,
  conversation_id: 3,
  author: { id: 5, email: "rude@example.com", username: "rude", role: "user", status: "active", is_guest: false },
  text: "<b>shout</b> <img src=x onerror=alert(1)>",
  categories: ["harassment", "profanity"],
  source: "local",
  flag_note: null,
  created_at: "2026-12-05T10:00:00Z",
  review: null,
};

function row(props: Partial<Parameters<typeof QueueRow>[0]> = {}) {
  const onDecide = vi.fn();
  render(
    <table>
      <tbody>
        <QueueRow item={item} decisions={["dismiss", "confirm", "suspend_user"]} busy={false} onDecide={onDecide} {...props} />
      </tbody>
    </table>,
  );
  return { onDecide, row: screen.getByRole("row") };
}

describe("QueueRow", () => {
  it("shows the user's message as text, never as HTML", () => {
    const { row: tr } = row();
    expect(within(tr).getByText(item.text)).toBeInTheDocument();
    expect(tr.querySelector("b, img")).toBeNull();
    expect(within(tr).getAllByRole("listitem").map((li) => li.textContent)).toEqual(["harassment", "profanity"]);
    expect(tr).toHaveTextContent("rude@example.com");
  });

  it("decides with the note typed", () => {
    const { onDecide, row: tr } = row();
    fireEvent.change(within(tr).getByLabelText("Review note for message 7"), { target: { value: "quoting" } });
    fireEvent.click(within(tr).getByRole("button", { name: "Suspend user" }));
    expect(onDecide).toHaveBeenCalledWith("suspend_user", "quoting");
  });

  it("shows a review, and no buttons when no decision is offered", () => {
    const review = { id: 1, decision: "confirm" as const, note: "abusive", reviewer_id: null, reviewer_username: null, created_at: "2026-12-05T11:00:00Z" };
    const { row: tr } = row({ item: { ...item, review }, decisions: [] });
    expect(tr).toHaveTextContent("Confirmed");
    expect(tr).toHaveTextContent("by a former member of staff");
    expect(tr).toHaveTextContent("abusive");
    expect(within(tr).queryByRole("button")).toBeNull();
  });
});
