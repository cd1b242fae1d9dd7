// The widget's own dark theme and its phone layout's focus handling.
import { HelplineClient, type WidgetConfig } from "./api";
import { strings } from "./i18n";
import { followTheme, pageTheme, pickTheme } from "./theme";
import { Widget } from "./widget";

const CONFIG: WidgetConfig = { enabled: true, guests_allowed: true, title: "Shop help", greeting: "", accent_color: "#1d4ed8" };

/** matchMedia answering `dark` for prefers-color-scheme and `narrow` for the phone width. */
function media(state: { dark: boolean; narrow: boolean }) {
  const listeners = new Map<string, Set<() => void>>();
  vi.stubGlobal("matchMedia", (query: string) => ({
    get matches() {
      return query.includes("prefers-color-scheme") ? state.dark : state.narrow;
    },
    addEventListener: (_: string, fn: () => void) => {
      if (!listeners.has(query)) listeners.set(query, new Set());
      listeners.get(query)!.add(fn);
    },
    removeEventListener: (_: string, fn: () => void) => listeners.get(query)?.delete(fn),
  }));
  return (query: string) => listeners.get(query)?.forEach((fn) => fn());
}

function mount(theme?: string): Widget {
  vi.stubGlobal("fetch", async () => new Response("{}", { status: 500 }));
  const widget = new Widget(new HelplineClient("https://help.example", "key", "en"), strings("en"), CONFIG, theme);
  document.body.appendChild(widget.view.host);
  return widget;
}

const dark = (w: Widget) => (w.view.panel.parentElement as HTMLElement).classList.contains("dark");

beforeEach(() => {
  localStorage.clear();
  document.body.replaceChildren();
  delete document.documentElement.dataset.theme;
  document.documentElement.className = "";
});

afterEach(() => vi.unstubAllGlobals());

describe("pickTheme", () => {
  it("takes the site's setting, else the page's theme, else the system's preference", () => {
    expect(pickTheme("dark", "light", false)).toBe("dark");
    expect(pickTheme(" Light ", "dark", true)).toBe("light");
    expect(pickTheme("auto", "dark", false)).toBe("dark");
    expect(pickTheme(undefined, null, true)).toBe("dark");
    expect(pickTheme("purple", null, false)).toBe("light");
  });

  it("reads the page's theme from data-theme or a dark/light class", () => {
    const root = document.createElement("html");
    expect(pageTheme(root)).toBeNull();
    root.classList.add("dark");
    expect(pageTheme(root)).toBe("dark");
    root.dataset.theme = "light";
    expect(pageTheme(root)).toBe("light");
  });
});

describe("the widget's theme", () => {
  it("follows the system's preference as it changes", () => {
    const state = { dark: true, narrow: false };
    const fire = media(state);
    const widget = mount();
    expect(dark(widget)).toBe(true);
    state.dark = false;
    fire("(prefers-color-scheme: dark)");
    expect(dark(widget)).toBe(false);
  });

  it("follows the page's own theme toggle (the app's <html data-theme>)", async () => {
    media({ dark: false, narrow: false });
    const widget = mount();
    expect(dark(widget)).toBe(false);
    document.documentElement.dataset.theme = "dark";
    await vi.waitFor(() => expect(dark(widget)).toBe(true));
  });

  it("keeps the theme the site asked for", async () => {
    const fire = media({ dark: true, narrow: false });
    const widget = mount("light");
    fire("(prefers-color-scheme: dark)");
    document.documentElement.dataset.theme = "dark";
    await Promise.resolve();
    expect(dark(widget)).toBe(false);
  });

  it("works without matchMedia (old browsers, tests)", () => {
    expect(() => followTheme(undefined, () => undefined)).not.toThrow();
  });
});

describe("on a phone", () => {
  const tab = (w: Widget, shiftKey = false) =>
    w.view.panel.dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", shiftKey, bubbles: true, cancelable: true }));

  it("the open panel is a modal dialog that keeps the focus inside; Escape closes it", () => {
    media({ dark: false, narrow: true });
    const widget = mount();
    widget.open();
    expect(widget.view.panel.getAttribute("aria-modal")).toBe("true");
    const items = widget.view.focusables();
    expect(items.length).toBeGreaterThan(1);
    items[items.length - 1]!.focus();
    expect(tab(widget)).toBe(false); // default prevented: the focus goes round
    expect(widget.view.focused()).toBe(items[0]);
    expect(tab(widget, true)).toBe(false);
    expect(widget.view.focused()).toBe(items[items.length - 1]);

    widget.view.panel.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(widget.isOpen).toBe(false);
    expect(widget.view.panel.hasAttribute("aria-modal")).toBe(false);
    expect(widget.view.focused()).toBe(widget.view.bubble);
  });

  it("is not modal on a wide screen, and becomes so when the window narrows", () => {
    const state = { dark: false, narrow: false };
    const fire = media(state);
    const widget = mount();
    widget.open();
    expect(widget.view.panel.hasAttribute("aria-modal")).toBe(false);
    widget.view.input.focus();
    expect(tab(widget)).toBe(true); // Tab moves on to the page as usual
    state.narrow = true;
    fire("(max-width: 480px)");
    expect(widget.view.panel.getAttribute("aria-modal")).toBe("true");
  });
});
