import { describe, expect, it, vi } from "vitest";
import { contactAsUser, contactMessage, TOPIC_MAX } from "./contact";

type Call = [string, { body?: unknown; params?: { path?: Record<string, number> } }];

function client(replies: Record<string, { data?: unknown; error?: unknown }>) {
  const calls: Call[] = [];
  const POST = vi.fn((path: string, init: Call[1]) => {
    calls.push([path, init]);
    return Promise.resolve(replies[path] ?? { error: { error: "not_found" } });
  });
  return { calls, client: { POST } as unknown as Parameters<typeof contactAsUser>[2] };
}

describe("contactMessage", () => {
  const about = (t: string) => `talk to a person about: ${t}`;

  it("names the topic, trimmed and cut, or asks plainly without one", () => {
    expect(contactMessage("  my package never arrived ", "talk to a person", about)).toBe(
      "talk to a person about: my package never arrived",
    );
    expect(contactMessage(undefined, "talk to a person", about)).toBe("talk to a person");
    expect(contactMessage("   ", "talk to a person", about)).toBe("talk to a person");
    expect(contactMessage("x".repeat(500), "", about)).toBe(`talk to a person about: ${"x".repeat(TOPIC_MAX)}`);
  });
});

describe("contactAsUser", () => {
  it("sends the request for a person as the user's own message; the server hands it over", async () => {
    const { calls, client: c } = client({
      "/api/v1/chat/send": { data: { conversation_id: 41, handoff: { status: "waiting_for_agent" } } },
    });
    expect(await contactAsUser("I would like to talk to a person.", "en", c)).toBe(41);
    expect(calls).toEqual([["/api/v1/chat/send", { body: { message: "I would like to talk to a person.", language: "en" } }]]);
  });

  it("asks for a person explicitly when the message was not taken as such", async () => {
    const { calls, client: c } = client({
      "/api/v1/chat/send": { data: { conversation_id: 42, handoff: null } },
      "/api/v1/conversations/{conversation_id}/handoff": { data: { status: "waiting_for_agent" } },
    });
    expect(await contactAsUser("Hola", "es", c)).toBe(42);
    expect(calls[1]).toEqual(["/api/v1/conversations/{conversation_id}/handoff", { params: { path: { conversation_id: 42 } }, body: {} }]);
  });

  it("fails when the message is refused or no person can be asked", async () => {
    await expect(contactAsUser("x", "en", client({ "/api/v1/chat/send": { error: { error: "rate_limited" } } }).client)).rejects.toEqual({
      error: "rate_limited",
    });
    const off = client({
      "/api/v1/chat/send": { data: { conversation_id: 43, handoff: null } },
      "/api/v1/conversations/{conversation_id}/handoff": { error: { error: "conflict" } },
    });
    await expect(contactAsUser("x", "en", off.client)).rejects.toEqual({ error: "conflict" });
  });
});
