import { afterEach, describe, expect, it, vi } from "vitest";
import { session } from "./session";

afterEach(() => {
  localStorage.clear();
  vi.restoreAllMocks();
});

describe("session", () => {
  it("refreshes once for concurrent callers and stores the new tokens", async () => {
    session.set({ access_token: "a1", refresh_token: "r1" });
    const fetchMock = vi
      .spyOn(globalThis, "fetch")
      .mockResolvedValue(new Response(JSON.stringify({ access_token: "a2", refresh_token: "r2" }), { status: 200 }));
    const [one, two] = await Promise.all([session.refresh(), session.refresh()]);
    expect(one && two).toBe(true);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(session.get()).toEqual({ access_token: "a2", refresh_token: "r2" });
  });

  it("reports a refused refresh and tells listeners the session expired", async () => {
    session.set({ access_token: "a1", refresh_token: "old" });
    vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("{}", { status: 401 }));
    const seen: (string | undefined)[] = [];
    const stop = session.subscribe((_tokens, reason) => seen.push(reason));
    expect(await session.refresh()).toBe(false);
    session.expire();
    stop();
    expect(session.get()).toBeNull();
    expect(seen).toEqual(["expired"]);
  });
});
