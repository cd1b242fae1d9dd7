// Human handoff on the chat screen: who answers the conversation (the assistant or a person), asking
// for a person, and while a person has it, their replies live from GET /conversations/{id}/events
// (Server-Sent Events read with fetch, re-attached with backoff after a drop).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createParser } from "eventsource-parser";
import { useEffect } from "react";
import { api, authFetch, type Schemas } from "../../api/client";
import { conversationKeys, type Message } from "./queries";
import { backoff } from "./stream";

export type HandoffState = Schemas["HandoffState"];
export type Expectation = Schemas["Expectation"];

export const handoffKey = (id: number) => ["conversations", "handoff", id] as const;

export const withPerson = (state: HandoffState | undefined) =>
  state?.status === "waiting_for_agent" || state?.status === "with_agent";

/** A person's reply (an assistant message an agent wrote). */
export function agentName(m: Pick<Message, "message_type" | "metadata">): string | null {
  const meta = (m.metadata ?? {}) as { author?: string; agent?: { name?: string } };
  return m.message_type === "assistant" && meta.author === "agent" ? (meta.agent?.name ?? "") : null;
}

type Fetcher = (request: Request) => Promise<Response>;

/** Follow the conversation's events until `signal` aborts; `onEvent` gets each event's name. */
export async function followEvents(conversationId: number, onEvent: (kind: string, data: Record<string, unknown>) => void, signal: AbortSignal, fetcher: Fetcher = authFetch): Promise<void> {
  let attempt = 0;
  while (!signal.aborted) {
    try {
      const response = await fetcher(
        new Request(`${location.origin}/api/v1/conversations/${conversationId}/events`, { headers: { Accept: "text/event-stream" }, signal }),
      );
      if (response.status === 404 || response.status === 401 || response.status === 403) return;
      if (response.ok && response.body) {
        attempt = 0;
        const parser = createParser({
          onEvent(event) {
            try {
              onEvent(event.event ?? "message", JSON.parse(event.data) as Record<string, unknown>);
            } catch {
              /* not JSON: ignore */
            }
          },
        });
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    attempt += 1;
    await new Promise((resolve) => setTimeout(resolve, backoff(attempt)));
  }
}

export function useHandoff(conversationId: number | null, lastAgentReply: number | undefined) {
  const client = useQueryClient();
  const state = useQuery({
    queryKey: handoffKey(conversationId ?? 0),
    enabled: conversationId !== null,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/conversations/{conversation_id}/handoff", {
        params: { path: { conversation_id: conversationId! } },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
  });
  const request = useMutation({
    mutationFn: async (email?: string) => {
      const { data, error } = await api.POST("/api/v1/conversations/{conversation_id}/handoff", {
        params: { path: { conversation_id: conversationId! } },
        body: email ? { email } : {},
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onSuccess: (data) => {
      client.setQueryData(handoffKey(conversationId!), data);
      void client.invalidateQueries({ queryKey: conversationKeys.detail(conversationId!) });
    },
  });

  const live = withPerson(state.data);
  useEffect(() => {
    if (conversationId === null || !live) return;
    const ctrl = new AbortController();
    void followEvents(
      conversationId,
      (kind) => {
        if (kind !== "agent" && kind !== "handoff") return;
        void client.invalidateQueries({ queryKey: conversationKeys.detail(conversationId) });
        if (kind === "handoff") void client.invalidateQueries({ queryKey: handoffKey(conversationId) });
      },
      ctrl.signal,
    );
    return () => ctrl.abort();
  }, [conversationId, live, client]);

  // A reply shown on screen is seen: it is not emailed.
  useEffect(() => {
    if (conversationId === null || lastAgentReply === undefined) return;
    void api.POST("/api/v1/conversations/{conversation_id}/handoff/seen", {
      params: { path: { conversation_id: conversationId } },
      body: { up_to: lastAgentReply },
    });
  }, [conversationId, lastAgentReply]);

  return { state: state.data, request: (email?: string) => request.mutate(email), pending: request.isPending, failed: request.isError };
}
