// One conversation: its stored messages, then what the outbox still holds for it (queued while
// offline, sending, or refused), then the answer being streamed. Sending goes through the
// outbox; stop, retry, sources and feedback act on the stored answer.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { FlatList, KeyboardAvoidingView, Platform, Pressable, Text, TextInput, View } from "react-native";
import { api, errorMessage, type Schemas } from "../api/client";
import { useApp } from "../app";
import { useI18n } from "../i18n";
import { ErrorText, Header, LinkButton } from "../ui/parts";
import { colors, styles } from "../ui/theme";
import { resumeAnswer } from "../chat/stream";
import { streamOptions } from "../chat/transport";
import { uuid4 } from "../chat/uuid";

type Message = Schemas["MessageRead"];
type Source = Schemas["Source"];

interface Bubble {
  key: string;
  role: "user" | "assistant";
  text: string;
  messageId?: number;
  status?: string;
  sources?: Source[];
  feedback?: boolean | null;
  note?: string;
  clientId?: string;
  failed?: boolean;
  streaming?: boolean;
  /** A failed, partial or stopped answer: Regenerate may write it again. */
  retryable?: boolean;
}

function sourcesOf(m: Message): Source[] {
  const raw = (m.metadata as { sources?: Source[] } | null | undefined)?.sources;
  return Array.isArray(raw) ? raw : [];
}

export function ChatScreen({ conversationId: initialId, thread: givenThread }: { conversationId: number | null; thread?: string }) {
  const { t, language } = useI18n();
  const { back, navigate, outbox, outboxState } = useApp();
  const thread = useRef(givenThread ?? (initialId !== null ? `c${initialId}` : uuid4())).current;
  const [conversationId, setConversationId] = useState<number | null>(initialId);
  const [messages, setMessages] = useState<Message[]>([]);
  const [title, setTitle] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const list = useRef<FlatList<Bubble>>(null);

  const load = useCallback(async (id: number) => {
    try {
      const { data, error: failure } = await api().GET("/api/v1/conversations/{conversation_id}", {
        params: { path: { conversation_id: id }, query: { limit: 100 } },
      });
      if (data) {
        setMessages([...data.messages].sort((a, b) => a.id - b.id));
        setTitle(data.title ?? null);
      } else setError(errorMessage(failure, t("error")));
    } catch (e) {
      setError(errorMessage(e, t("error")));
    }
  }, [t]);

  useEffect(() => {
    if (conversationId !== null) void load(conversationId);
  }, [conversationId, load]);

  const live = outboxState.live && (outboxState.live.thread === thread || (conversationId !== null && outboxState.live.conversation_id === conversationId)) ? outboxState.live : null;

  // The first message of a new conversation was accepted: the conversation has its id now.
  useEffect(() => {
    if (conversationId === null) {
      const id = live?.conversation_id ?? outbox.conversationOf(thread);
      if (id) setConversationId(id);
    }
  }, [live?.conversation_id, conversationId, outbox, thread]);

  // The answer finished (or was stopped): show the stored conversation.
  const finished = live && (live.final || live.stopped || live.error) ? live.client_id : null;
  useEffect(() => {
    const id = conversationId ?? live?.conversation_id;
    if (finished && id) void load(id);
  }, [finished]); // eslint-disable-line react-hooks/exhaustive-deps

  // An answer stored as still being written that the outbox is not streaming (the app was closed
  // or the list reloaded mid-answer): follow it to its end (GET /chat/stream/{id}), then reload.
  const pending = messages.find(
    (m) => m.message_type === "assistant" && m.status === "streaming" && m.id !== live?.message_id,
  );
  const [resumed, setResumed] = useState<{ id: number; text: string } | null>(null);
  useEffect(() => {
    if (!pending || conversationId === null) return;
    const controller = new AbortController();
    setResumed({ id: pending.id, text: pending.content });
    resumeAnswer(
      pending.id,
      {
        onToken: (token) => setResumed((r) => (r && r.id === pending.id ? { ...r, text: r.text + token } : r)),
        onReplace: (text) => setResumed({ id: pending.id, text }),
      },
      streamOptions(controller.signal),
    )
      .catch(() => undefined)
      .finally(() => {
        if (!controller.signal.aborted) {
          setResumed(null);
          void load(conversationId);
        }
      });
    return () => controller.abort();
  }, [pending?.id, conversationId]); // eslint-disable-line react-hooks/exhaustive-deps

  const bubbles = useMemo<Bubble[]>(() => {
    const out: Bubble[] = messages
      .filter((m) => m.message_type === "user" || m.message_type === "assistant")
      // The answer the outbox is streaming shows live, not as its unfinished stored copy.
      .filter((m) => !(m.status === "streaming" && m.id === live?.message_id))
      .map((m) => {
        const writing = m.status === "streaming";
        return {
          key: `m${m.id}`,
          role: m.message_type === "user" ? "user" : "assistant",
          text: writing && resumed?.id === m.id ? resumed.text : m.content,
          messageId: m.id,
          status: m.status,
          streaming: writing,
          sources: m.message_type === "assistant" ? sourcesOf(m) : [],
          feedback: m.feedback,
          retryable:
            m.message_type === "assistant" &&
            (m.status === "failed" || m.status === "partial" || (m.metadata as { stopped?: boolean } | null)?.stopped === true),
          note: writing
            ? t("typing")
            : m.status === "failed"
              ? t("error")
              : (m.metadata as { stopped?: boolean } | null)?.stopped
                ? t("stopped")
                : undefined,
        } satisfies Bubble;
      });
    const stored = new Set(messages.filter((m) => m.status !== "streaming").map((m) => m.id));
    if (live && !(live.message_id !== null && stored.has(live.message_id))) {
      if (live.user_message_id === null || !stored.has(live.user_message_id)) {
        out.push({ key: `lu-${live.client_id}`, role: "user", text: live.user_text });
      }
      out.push({
        key: `la-${live.client_id}`,
        role: "assistant",
        text: live.text,
        streaming: !live.final && !live.stopped && !live.error,
        note: live.reconnecting ? t("reconnecting") : live.stopped ? t("stopped") : (live.error ?? (live.text ? undefined : t("typing"))),
        sources: live.final?.sources ?? [],
        messageId: live.final?.message_id,
      });
    }
    for (const item of outboxState.items) {
      if (item.thread !== thread && (conversationId === null || item.conversation_id !== conversationId)) continue;
      if (live?.client_id === item.client_id) continue;
      out.push({
        key: `q-${item.client_id}`,
        role: "user",
        text: item.text,
        clientId: item.client_id,
        failed: item.state === "failed",
        note: item.state === "failed" ? (item.error ?? t("error")) : t("queued"),
      });
    }
    return out;
  }, [messages, live, resumed, outboxState.items, thread, conversationId, t]);

  async function send() {
    const message = text.trim();
    if (!message) return;
    setText("");
    setError(null);
    await outbox.enqueue(message, { conversation_id: conversationId, thread, language });
  }

  async function stop() {
    const current = outbox.stop();
    if (current?.message_id) {
      await api()
        .POST("/api/v1/chat/messages/{message_id}/stop", { params: { path: { message_id: current.message_id } } })
        .catch(() => undefined);
      // The stored answer is final now (what was written, marked stopped): show it.
      const id = conversationId ?? current.conversation_id;
      if (id !== null) await load(id);
    }
  }

  async function retry(messageId: number) {
    setError(null);
    const { error: failure } = await api().POST("/api/v1/chat/messages/{message_id}/retry", {
      params: { path: { message_id: messageId } },
    });
    if (failure) setError(errorMessage(failure, t("error")));
    if (conversationId !== null) await load(conversationId);
  }

  async function rate(messageId: number, helpful: boolean) {
    setMessages((ms) => ms.map((m) => (m.id === messageId ? { ...m, feedback: helpful } : m)));
    const { error: failure } = await api().POST("/api/v1/messages/{message_id}/feedback", {
      params: { path: { message_id: messageId } },
      body: { helpful },
    });
    if (failure) setError(errorMessage(failure, t("error")));
  }

  const streaming = !!live && !live.final && !live.stopped && !live.error;
  const lastAssistant = [...bubbles].reverse().find((b) => b.role === "assistant" && b.messageId && !b.streaming);

  return (
    <KeyboardAvoidingView style={styles.screen} behavior={Platform.OS === "ios" ? "padding" : undefined}>
      <Header title={title ?? t("chat")} left={<LinkButton label={t("back")} onPress={back} />} />
      {!outboxState.online ? <Text style={[styles.notice, { padding: 8 }]}>{t("offline")}</Text> : null}
      <FlatList
        ref={list}
        data={bubbles}
        keyExtractor={(b) => b.key}
        onContentSizeChange={() => list.current?.scrollToEnd({ animated: false })}
        contentContainerStyle={{ paddingVertical: 8 }}
        renderItem={({ item: b }) => (
          <View
            testID={b.role === "assistant" ? "assistant-message" : "user-message"}
            style={[styles.bubble, b.role === "user" ? styles.bubbleUser : styles.bubbleAssistant]}
          >
            <Text style={b.role === "user" ? styles.bubbleTextUser : styles.bubbleText}>{b.text}</Text>
            {b.note ? <Text style={[styles.small, b.role === "user" ? { color: "#dfe6f7" } : null]}>{b.note}</Text> : null}
            {b.sources && b.sources.length > 0 ? (
              <View accessibilityLabel={t("sources")} style={{ marginTop: 6, gap: 2 }}>
                <Text style={styles.small}>{t("sources")}</Text>
                {b.sources.map((s) => (
                  <Pressable
                    key={s.id}
                    accessibilityRole="link"
                    accessibilityLabel={s.question}
                    onPress={() => navigate({ name: "help", query: s.question })}
                  >
                    <Text style={[styles.small, { color: colors.primary }]}>
                      {s.n ? `[${s.n}] ` : "• "}
                      {s.question}
                    </Text>
                  </Pressable>
                ))}
              </View>
            ) : null}
            {b.role === "assistant" && b.messageId && !b.streaming && b.status !== "failed" ? (
              <View style={[styles.row, { marginTop: 4 }]}>
                <Pressable
                  accessibilityRole="button"
                  accessibilityLabel={t("helpful")}
                  aria-selected={b.feedback === true}
                  onPress={() => void rate(b.messageId!, true)}
                  style={[styles.chip, b.feedback === true ? styles.chipActive : null]}
                >
                  <Text>👍</Text>
                </Pressable>
                <Pressable
                  accessibilityRole="button"
                  accessibilityLabel={t("notHelpful")}
                  aria-selected={b.feedback === false}
                  onPress={() => void rate(b.messageId!, false)}
                  style={[styles.chip, b.feedback === false ? styles.chipActive : null]}
                >
                  <Text>👎</Text>
                </Pressable>
              </View>
            ) : null}
            {b.clientId && b.failed ? (
              <View style={styles.row}>
                <LinkButton label={t("retry")} onPress={() => void outbox.retry(b.clientId!)} />
                <LinkButton label={t("discard")} onPress={() => void outbox.discard(b.clientId!)} />
              </View>
            ) : null}
          </View>
        )}
      />
      {lastAssistant?.retryable && !streaming ? (
        <View style={{ paddingHorizontal: 12 }}>
          <LinkButton label={t("regenerate")} onPress={() => void retry(lastAssistant.messageId!)} />
        </View>
      ) : null}
      <ErrorText message={error} />
      <View style={styles.composer}>
        <TextInput
          accessibilityLabel={t("message")}
          placeholder={t("message")}
          value={text}
          onChangeText={setText}
          multiline
          style={[styles.input, { flex: 1, maxHeight: 120 }]}
          onSubmitEditing={() => void send()}
          submitBehavior="submit"
        />
        {streaming ? (
          <Pressable accessibilityRole="button" accessibilityLabel={t("stop")} onPress={() => void stop()} style={[styles.button, { paddingHorizontal: 16 }]}>
            <Text style={styles.buttonText}>{t("stop")}</Text>
          </Pressable>
        ) : (
          <Pressable
            accessibilityRole="button"
            accessibilityLabel={t("send")}
            disabled={!text.trim()}
            onPress={() => void send()}
            style={[styles.button, { paddingHorizontal: 16 }, !text.trim() ? { opacity: 0.5 } : null]}
          >
            <Text style={styles.buttonText}>{t("send")}</Text>
          </Pressable>
        )}
      </View>
    </KeyboardAvoidingView>
  );
}

