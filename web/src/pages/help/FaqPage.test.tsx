import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../../auth/AuthProvider";
import "../../i18n";
import { FaqPage } from "./FaqPage";
import { SearchResults } from "./SearchResults";

const get = vi.fn();
vi.mock("../../api/client", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../api/client")>()),
  api: { GET: (...args: unknown[]) => get(...args), POST: vi.fn() },
}));

const faq = {
  id: 7, category_id: 1, question: "How do I track my parcel?", answer: "**Open** the page. <b>bold</b>",
  keywords: [], status: "published", priority: 0, language: "en", slug: "track", meta_title: null,
  meta_description: null, view_count: 0, helpful_count: 0, not_helpful_count: 0,
  created_at: "2026-01-01T00:00:00Z", updated_at: null, published_at: "2026-01-01T00:00:00Z", embedded: true,
};

function answer(path: string) {
  if (path === "/api/v1/faqs/by-slug/{slug}") return { data: faq };
  if (path === "/api/v1/faq-categories") return { data: { items: [] } };
  if (path === "/api/v1/faqs") return { data: { items: [faq], next_cursor: null } };
  if (path === "/api/v1/faqs/search") return { data: { query: "x", items: [] } };
  return { error: { error: "not_found", detail: "No such endpoint" } };
}

function show(ui: React.ReactNode, path: string) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <AuthProvider>
          <Routes>
            <Route path="/help/:slug" element={ui} />
            <Route path="/help" element={ui} />
          </Routes>
        </AuthProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

beforeEach(() => {
  get.mockReset();
  get.mockImplementation((path: string) => Promise.resolve(answer(path)));
  document.title = "Helpline";
});

describe("FaqPage", () => {
  it("shows the question, the rendered answer with HTML as text, and titles the page", async () => {
    show(<FaqPage />, "/help/track");
    expect(await screen.findByRole("heading", { level: 1, name: "How do I track my parcel?" })).toBeInTheDocument();
    expect(screen.getByText("Open").tagName).toBe("STRONG");
    expect(screen.getByText(/<b>bold<\/b>/)).toBeInTheDocument();
    expect(document.title).toBe("How do I track my parcel? · Help center");
    expect(document.querySelector('meta[name="description"]')?.getAttribute("content")).toBe("Open the page. <bbold</b");
    // Visitors vote too (once per device): no sign-in needed.
    expect(screen.getByRole("button", { name: "Yes" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "No" })).toBeInTheDocument();
  });

  it("says so when the FAQ does not exist", async () => {
    get.mockImplementation((path: string) =>
      Promise.resolve(path.includes("by-slug") ? { error: { error: "not_found", detail: "No such FAQ" } } : answer(path)),
    );
    show(<FaqPage />, "/help/gone");
    expect(await screen.findByRole("heading", { level: 1, name: "Not found" })).toBeInTheDocument();
    expect(screen.getByText(/no longer published/)).toBeInTheDocument();
  });

  it("offers a retry when the server cannot be reached", async () => {
    get.mockImplementation((path: string) =>
      path.includes("by-slug") ? Promise.reject(new TypeError("Failed to fetch")) : Promise.resolve(answer(path)),
    );
    show(<FaqPage />, "/help/track");
    expect(await screen.findByRole("alert")).toHaveTextContent("Cannot reach the server");
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });
});

describe("SearchResults", () => {
  it("says that no FAQ matches, in the interface language's filter", async () => {
    show(<SearchResults q="zebra" />, "/help?q=zebra");
    expect(await screen.findByText("No FAQs match “zebra”. Try other words.")).toBeInTheDocument();
    const search = get.mock.calls.find(([path]) => path === "/api/v1/faqs/search");
    expect(search?.[1]).toMatchObject({ params: { query: { q: "zebra", language: "en", status: "published", suggest: true } } });
  });

  it("offers the API's spelling of the query and a way to a person", async () => {
    get.mockImplementation((path: string) =>
      Promise.resolve(path === "/api/v1/faqs/search" ? { data: { query: "parcle", items: [], suggestion: "parcel" } } : answer(path)),
    );
    show(<SearchResults q="parcle" />, "/help?q=parcle");
    const link = await screen.findByRole("link", { name: "parcel" });
    expect(link).toHaveAttribute("href", "/help?q=parcel");
    expect(screen.getByText("Did you mean")).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Still need help?" })).toBeInTheDocument();
  });
});
