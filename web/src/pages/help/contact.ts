// "Contact us" for a signed-in user: a conversation of their own, handed to a person, which the
// chat page then shows (with its handoff bar and the person's replies live). A visitor goes
// through the widget as a guest instead (guest/guestChat.ts).
import { api } from "../../api/client";

type Client = Pick<typeof api, "POST">;

/** Longest topic quoted in the request (the widget quotes as much). */
export const TOPIC_MAX = 300;

/** The message that asks for a person, about `topic` when there is one. */
export function contactMessage(topic: string | undefined, plain: string, about: (topic: string) => string): string {
  const t = topic?.trim();
  return t ? about(t.slice(0, TOPIC_MAX)) : plain;
}

/** Start a conversation that asks for a person, as the signed-in user; its id. The message is the
 * same request for a person a typed "talk to a person" makes, so the server hands it over at once
 * and the assistant stays quiet; should it not have (a phrasing the server does not recognise),
 * the conversation is handed over explicitly, as the chat page's "Talk to a person" does. */
export async function contactAsUser(message: string, language: string, client: Client = api): Promise<number> {
  const sent = await client.POST("/api/v1/chat/send", { body: { message, language } });
  if (sent.error || !sent.data) throw sent.error ?? new Error("empty response");
  const id = sent.data.conversation_id;
  if (!sent.data.handoff) {
    const handed = await client.POST("/api/v1/conversations/{conversation_id}/handoff", {
      params: { path: { conversation_id: id } },
      body: {},
    });
    if (handed.error) throw handed.error;
  }
  return id;
}
