// The answer being produced right now ("live turn"): sending, streaming token by token, stopping,
// retrying, and following an answer that was already in progress when the page loaded.
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { api, authFetch, errorMessage } from "../../api/client";
import { conversationKeys } from "./queries";
import { ApiRefusal, NetworkDown, clientIdFor, resumeAnswer, streamMessage, type FinalAnswer, type StreamHandlers } from "./stream";

export type Phase = "waiting" | "streaming" | "reconnecting" | "done" | "stopped" | "failed";

export interface LiveTurn {
  conversationId: number | null;
  /** The user's text, shown until the stored history has the message. */
  userText?: string;
  userMessageId?: number;
  messageId?: number;
  content: string;
  phase: Phase;
  final?: FinalAnswer;
  createdAt: string;
}

export const isActive = (phase: Phase | undefined) => phase === "waiting" || phase === "streaming" || phase === "reconnecting";

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

export function useChat(conversationId: number | null, onNewConversation: (id: number) => void) {
  const { t, i18n } = useTranslation("chat");
  const client = useQueryClient();
  const [live, setLive] = useState<LiveTurn | null>(null);
  const [error, setError] = useState<string | null>(null);
  const controller = useRef<AbortController | null>(null);
  const turn = useRef(0);
  const stoppedIds = useRef(new Set<number>());

  useEffect(() => () => controller.current?.abort(), []);

  /** Updates of turn `n` only, so a late event of an abandoned answer changes nothing. */
  const updater = useCallback((n: number) => {
    return (change: (l: LiveTurn) => LiveTurn | null) => {
      if (turn.current === n) setLive((l) => (l ? change(l) : l));
    };
  }, []);

  const refresh = useCallback(
    (id: number | null | undefined) => {
      void client.invalidateQueries({ queryKey: ["conversations", "list"] });
      if (id) void client.invalidateQueries({ queryKey: conversationKeys.detail(id) });
    },
    [client],
  );

  const handlers = (update: ReturnType<typeof updater>): StreamHandlers => ({
    onToken: (text) => update((l) => ({ ...l, content: l.content + text, phase: "streaming" })),
    onReplace: (text) => update((l) => ({ ...l, content: text, phase: "streaming" })),
    onReconnecting: () => update((l) => ({ ...l, phase: "reconnecting" })),
    onReconnected: () => update((l) => ({ ...l, phase: "streaming" })),
  });

  const finished = (update: ReturnType<typeof updater>, final: FinalAnswer) => {
    void client.invalidateQueries({ queryKey: ["conversations", "handoff"] });
    if (final.handoff) {
      // A person answers: the message is stored for them, no answer follows (the history shows it).
      update(() => null);
      refresh(final.conversation_id);
      return;
    }
    update((l) => ({ ...l, final, content: final.content, phase: final.error ? "failed" : "done" }));
    refresh(final.conversation_id);
  };

  const begin = (next: LiveTurn): { n: number; signal: AbortSignal } => {
    controller.current?.abort();
    const ctrl = new AbortController();
    controller.current = ctrl;
    const n = ++turn.current;
    setError(null);
    setLive(next);
    return { n, signal: ctrl.signal };
  };

  // The last message sent without being accepted (its client_id is reused if it is sent again).
  const unsent = useRef<{ text: string; clientId: string } | null>(null);

  const send = (text: string): Promise<boolean> => {
    const clientId = clientIdFor(unsent.current, text);
    unsent.current = { text, clientId };
    const { n, signal } = begin({ conversationId, userText: text, content: "", phase: "waiting", createdAt: new Date().toISOString() });
    const update = updater(n);
    return new Promise<boolean>((resolve) => {
      let accepted = false;
      const body = { message: text, conversation_id: conversationId ?? undefined, language: i18n.language, client_id: clientId };
      streamMessage(
        body,
        {
          ...handlers(update),
          onAccepted: (ids) => {
            accepted = true;
            unsent.current = null;
            update((l) => ({ ...l, messageId: ids.message_id, userMessageId: ids.user_message_id, conversationId: ids.conversation_id }));
            if (conversationId === null) onNewConversation(ids.conversation_id);
            void client.invalidateQueries({ queryKey: ["conversations", "list"] });
            resolve(true);
          },
        },
        { fetch: authFetch, signal },
      )
        .then((final) => finished(update, final))
        .catch((e: unknown) => {
          if (isAbort(e)) {
            if (!accepted) update(() => null);
          } else if (!accepted) {
            update(() => null);
            if (!(e instanceof ApiRefusal && e.status === 401)) setError(refusalText(e));
          } else {
            update((l) => ({ ...l, phase: "failed" }));
            setError(e instanceof ApiRefusal ? refusalText(e) : t("connectionLost"));
          }
          resolve(accepted);
        });
    });
  };

  const refusalText = (e: unknown): string => {
    if (e instanceof NetworkDown) return t("networkDown");
    if (e instanceof ApiRefusal) {
      if (e.status === 429) return typeof e.body?.detail === "string" ? e.body.detail : t("rateLimited");
      if (e.body?.error === "consent_required") return t("consentRequired");
      return errorMessage(e.body, t("sendFailed"));
    }
    return errorMessage(e, t("sendFailed"));
  };

  const stop = () => {
    const current = live;
    controller.current?.abort();
    controller.current = null;
    if (!current) return;
    setLive({ ...current, phase: "stopped" });
    const id = current.messageId;
    if (!id) return;
    stoppedIds.current.add(id);
    // Ask the server to stop generating and keep the partial answer. An older server without the
    // endpoint answers 404/405 and an answer that just finished 409: nothing more to do then.
    authFetch(new Request(`${location.origin}/api/v1/chat/messages/${id}/stop`, { method: "POST" }))
      .catch(() => undefined)
      .finally(() => refresh(current.conversationId));
  };

  const retry = async (messageId: number, convId: number) => {
    const { n } = begin({ conversationId: convId, messageId, content: "", phase: "waiting", createdAt: new Date().toISOString() });
    const update = updater(n);
    stoppedIds.current.delete(messageId);
    try {
      const { data, error: err } = await api.POST("/api/v1/chat/messages/{message_id}/retry", {
        params: { path: { message_id: messageId } },
      });
      if (err || !data) {
        update(() => null);
        setError(errorMessage(err, t("sendFailed")));
        refresh(convId);
      } else finished(update, data);
    } catch (e) {
      update(() => null);
      setError(errorMessage(e, t("sendFailed")));
    }
  };

  /** Follow an answer stored as still streaming (the page was reloaded mid-answer). */
  const resume = (messageId: number, convId: number) => {
    if (stoppedIds.current.has(messageId) || live?.messageId === messageId) return;
    const { n, signal } = begin({ conversationId: convId, messageId, content: "", phase: "waiting", createdAt: new Date().toISOString() });
    const update = updater(n);
    resumeAnswer(messageId, handlers(update), { fetch: authFetch, signal })
      .then((final) => finished(update, final))
      .catch((e: unknown) => {
        if (isAbort(e)) return;
        update((l) => ({ ...l, phase: "failed" }));
        setError(t("connectionLost"));
      });
  };

  /** The stored history has caught up with a finished live turn: show the stored one. */
  const settle = useCallback(() => {
    turn.current += 1;
    setLive(null);
  }, []);

  return { live, error, setError, send, stop, retry, resume, settle };
}
