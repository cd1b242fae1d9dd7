// Server state of the chat screen: conversations (keyset pages), one conversation's messages
// (newest page first, older pages on demand) and the edits made from the sidebar.
import { useInfiniteQuery, useMutation, useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { api, type Schemas } from "../../api/client";

/** A conversation in the sidebar (with `match`, the snippet of the text a search found). */
export type Conversation = Schemas["ConversationHit"];
export type SearchMatch = Schemas["SearchMatch"];
export type Message = Schemas["MessageRead"];
export type ConversationDetail = Schemas["ConversationDetail"];
export type StatusFilter = "active" | "archived";

export const conversationKeys = {
  all: ["conversations"] as const,
  list: (q: string, status: StatusFilter) => ["conversations", "list", { q, status }] as const,
  detail: (id: number) => ["conversations", "detail", id] as const,
};

export function useConversationList(q: string, status: StatusFilter) {
  return useInfiniteQuery({
    queryKey: conversationKeys.list(q, status),
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam }) => {
      const { data, error } = await api.GET("/api/v1/conversations", {
        params: { query: { status, q: q || undefined, cursor: pageParam ?? undefined, limit: 20 } },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    getNextPageParam: (last) => last.next_cursor ?? null,
  });
}

export function useConversation(id: number | null) {
  return useInfiniteQuery({
    queryKey: conversationKeys.detail(id ?? 0),
    enabled: id !== null,
    initialPageParam: null as number | null,
    queryFn: async ({ pageParam }) => {
      const { data, error } = await api.GET("/api/v1/conversations/{conversation_id}", {
        params: { path: { conversation_id: id! }, query: { before: pageParam ?? undefined, limit: 50 } },
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    getNextPageParam: (last) => last.messages_next_cursor ?? null,
  });
}

/** Messages oldest first, from the pages (page 0 holds the newest). */
export function messagesOf(data: InfiniteData<ConversationDetail> | undefined): Message[] {
  if (!data) return [];
  return [...data.pages].reverse().flatMap((p) => p.messages);
}

export function useUpdateConversation() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ id, ...body }: { id: number; title?: string; is_archived?: boolean }) => {
      const { data, error } = await api.PUT("/api/v1/conversations/{conversation_id}", {
        params: { path: { conversation_id: id } },
        body,
      });
      if (error || !data) throw error ?? new Error("empty response");
      return data;
    },
    onSuccess: () => client.invalidateQueries({ queryKey: conversationKeys.all }),
  });
}

export function useDeleteConversation() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (id: number) => {
      const { error } = await api.DELETE("/api/v1/conversations/{conversation_id}", {
        params: { path: { conversation_id: id } },
      });
      if (error) throw error;
      return id;
    },
    onSuccess: (id) => {
      client.removeQueries({ queryKey: conversationKeys.detail(id) });
      return client.invalidateQueries({ queryKey: ["conversations", "list"] });
    },
  });
}
