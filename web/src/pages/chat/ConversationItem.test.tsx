import { render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import "../../i18n";
import { ConversationItem } from "./ConversationItem";
import type { Conversation } from "./queries";

const base = {
  id: 3, title: "Billing address change", language: "en", tags: null, message_count: 4, total_tokens: 0,
  duration_seconds: 0, is_active: true, is_archived: false, created_at: "2026-01-02T10:00:00Z", updated_at: null,
  last_message_at: "2026-01-02T10:00:00Z",
} as const;

function show(conversation: Conversation) {
  render(
    <MemoryRouter>
      <ul>
        <ConversationItem conversation={conversation} onRename={vi.fn()} onArchive={vi.fn()} onDelete={vi.fn()} onOpen={vi.fn()} />
      </ul>
    </MemoryRouter>,
  );
}

describe("ConversationItem", () => {
  it("shows where a search matched: the text around it, the match marked, whose message it was", () => {
    show({ ...base, match: { message_id: 9, message_type: "user", before: "…also my ", match: "invoice", after: " total is wrong" } });
    const link = screen.getByRole("link");
    expect(link).toHaveTextContent("Billing address change");
    expect(link).toHaveTextContent("You wrote: …also my invoice total is wrong");
    expect(screen.getByText("invoice").tagName).toBe("MARK");
  });

  it("shows no snippet without a match", () => {
    show({ ...base, match: null });
    expect(document.querySelector(".conversation-snippet")).toBeNull();
    expect(document.querySelector("mark")).toBeNull();
  });

  it("says a reply matched, and marks nothing when the match could not be placed", () => {
    show({ ...base, match: { message_id: 9, message_type: "assistant", before: "", match: "", after: "Straße kaputt" } });
    expect(screen.getByRole("link")).toHaveTextContent("Reply: Straße kaputt");
    expect(document.querySelector("mark")).toBeNull();
  });
});
