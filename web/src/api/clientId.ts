/** A message's own id (`client_id`): sent again with it, the server stores the message once and
 * answers it once (a send whose response was lost, then sent again by the user). */
export function newClientId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // randomUUID exists only in secure contexts (https, localhost); getRandomValues everywhere.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The client_id for sending ``text``: the one of the last send that was not accepted when it is
 * the same text sent again (the server may have stored it before the connection dropped), else a
 * new one. */
export function clientIdFor(unsent: { text: string; clientId: string } | null, text: string): string {
  return unsent !== null && unsent.text === text ? unsent.clientId : newClientId();
}
