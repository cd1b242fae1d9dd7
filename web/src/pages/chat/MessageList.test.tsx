import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import "../../i18n";
import { mergeMessages, MessageList } from "./MessageList";
import type { Message } from "./queries";
import type { LiveTurn } from "./useChat";

const ARTICLE = { id: 4, question: "How do I reset my password?", slug: "reset-password", score: 0.6 };
const OTHER = { id: 5, question: "Where is my parcel?", slug: "parcel", score: 0.3 };

function stored(id: number, content: string, metadata: Record<string, unknown>): Message {
  return {
    id,
    conversation_id: 1,
    message_type: "assistant",
    content,
    status: "sent",
    created_at: "2026-01-02T10:00:00Z",
    feedback: null,
    metadata,
  } as unknown as Message;
}

function show(messages: Message[], live: LiveTurn | null = null, onRephrase = vi.fn()) {
  const client = new QueryClient();
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter>
        <MessageList bubbles={mergeMessages(messages, live)} onRetry={vi.fn()} onRephrase={onRephrase} busy={false} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return onRephrase;
}

afterEach(() => vi.unstubAllGlobals());

describe("MessageList and the grounded-answer guard", () => {
  it("says an answer was taken from the help article, from the history", () => {
    show([stored(9, "Here is what our help article says:", { sources: [ARTICLE], guard: { action: "article", reason: "unsupported_fact" } })]);
    expect(screen.getByText(/Answered with our help article, because/)).toBeInTheDocument();
    expect(within(screen.getByRole("list", { name: "Sources" })).getByRole("link", { name: ARTICLE.question })).toHaveAttribute(
      "href",
      "/help/reset-password",
    );
    expect(screen.queryByRole("list", { name: "Closest articles" })).toBeNull();
  });

  it("lists the closest articles with an honest I don't know, live and without a note", () => {
    const live: LiveTurn = {
      conversationId: 1,
      messageId: 9,
      content: "I'm sorry, I don't know.",
      phase: "done",
      createdAt: "2026-01-02T10:00:00Z",
      final: {
        message_id: 9,
        conversation_id: 1,
        content: "I'm sorry, I don't know.",
        status: "sent",
        sources: [],
        related: [ARTICLE, OTHER],
        guard: { action: "dont_know", reason: "unsupported_fact", unsupported: [] },
      } as unknown as LiveTurn["final"],
    };
    show([], live);
    const related = screen.getByRole("list", { name: "Closest articles" });
    expect(within(related).getAllByRole("link").map((a) => a.getAttribute("href"))).toEqual(["/help/reset-password", "/help/parcel"]);
    expect(screen.queryByRole("list", { name: "Sources" })).toBeNull();
    expect(screen.queryByText(/Answered with our help article/)).toBeNull();
  });

  it("offers the closest articles and asking in other words after Not helpful", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => Response.json({ message_id: 9, helpful: false }, { status: 200 })),
    );
    const onRephrase = show([stored(9, "I'm sorry, I don't know.", { related: [ARTICLE], guard: { action: "dont_know", reason: "unsupported_fact" } })]);
    expect(screen.queryByText("Sorry this did not help.")).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Not helpful" }));
    expect(await screen.findByText("Sorry this did not help.")).toBeInTheDocument();
    const offered = screen.getByRole("list", { name: "These articles may have what you need" });
    expect(within(offered).getByRole("link", { name: ARTICLE.question })).toHaveAttribute("href", "/help/reset-password");
    await userEvent.click(screen.getByRole("button", { name: "Ask in other words" }));
    expect(onRephrase).toHaveBeenCalledOnce();
    await userEvent.click(screen.getByRole("button", { name: "Helpful" }));
    expect(screen.queryByText("Sorry this did not help.")).toBeNull();
  });
});
