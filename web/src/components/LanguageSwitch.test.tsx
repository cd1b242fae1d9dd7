import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth/AuthProvider";
import { session } from "../auth/session";
import i18n from "../i18n";
import { LanguageSwitch } from "./Layout";

const get = vi.fn();
vi.mock("../api/client", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../api/client")>()),
  api: { GET: (...args: unknown[]) => get(...args), PATCH: vi.fn(), POST: vi.fn() },
}));

afterEach(() => {
  session.clear();
  get.mockReset();
});

describe("LanguageSwitch", () => {
  it("waits for the signed-in account, whose language then applies", async () => {
    let release: (value: unknown) => void = () => {};
    get.mockImplementation(() => new Promise((resolve) => (release = resolve)));
    session.set({ access_token: "a", refresh_token: "r" });
    await act(() => i18n.changeLanguage("en"));
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <QueryClientProvider client={client}>
        <AuthProvider>
          <LanguageSwitch />
        </AuthProvider>
      </QueryClientProvider>,
    );
    const select = screen.getByRole("combobox");
    // A choice made now would be undone by the account's language on arrival.
    expect(select).toBeDisabled();

    await waitFor(() => expect(get).toHaveBeenCalled());
    await act(async () => release({ data: { id: 1, language: "fr", role: "user" } }));

    await waitFor(() => expect(select).toBeEnabled());
    expect(select).toHaveValue("fr");
  });
});
