// The app's own pages reuse the embeddable widget (/widget.js, src/widget) for guest chat and
// "contact us": one guest flow (POST /api/v1/auth/guest, with the widget's settings and limits),
// not a second one. The script is added once, on demand; its window.HelplineWidget queues calls
// until it is ready.
import { useQuery } from "@tanstack/react-query";

interface WidgetApi {
  open(): void;
  close(): void;
  contact?(topic?: string): void;
}

/** window.HelplineWidget, which /widget.js sets (src/widget/main.ts). */
function widgetApi(): WidgetApi | undefined {
  return (window as unknown as { HelplineWidget?: WidgetApi }).HelplineWidget;
}

export interface GuestChatConfig {
  enabled: boolean;
  guests_allowed: boolean;
}

/** Whether a visitor may chat as a guest here: the widget is on, needs no site key, allows guests. */
export function guestChatAllowed(config: GuestChatConfig | null): boolean {
  return Boolean(config?.enabled && config.guests_allowed);
}

/** The widget's public settings (null: off, or it needs a site key this page does not have). */
async function widgetConfig(): Promise<GuestChatConfig | null> {
  const response = await fetch("/api/v1/widget/config");
  if (response.status === 404 || response.status === 403) return null;
  if (!response.ok) throw new Error(`widget config: ${response.status}`);
  return (await response.json()) as GuestChatConfig;
}

let loading: Promise<WidgetApi> | null = null;

/** Add /widget.js to the page (once) in the interface's language; resolves with its API. */
export function loadWidget(language: string): Promise<WidgetApi> {
  const ready = widgetApi();
  if (ready) return Promise.resolve(ready);
  loading ??= new Promise<WidgetApi>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/widget.js";
    script.async = true;
    script.dataset.helplineLanguage = language;
    script.addEventListener("load", () => {
      const widget = widgetApi();
      if (widget) resolve(widget);
      else reject(new Error("widget did not start"));
    });
    script.addEventListener("error", () => {
      loading = null;
      script.remove();
      reject(new Error("widget.js did not load"));
    });
    document.body.appendChild(script);
  });
  return loading;
}

/** Guest chat for the landing page and the help center's "contact us". */
export function useGuestChat(language: string) {
  const config = useQuery({ queryKey: ["public", "widget-config"], queryFn: widgetConfig, staleTime: 60_000, retry: 1 });
  const allowed = config.isSuccess ? guestChatAllowed(config.data) : false;
  return {
    /** undefined while the settings are being read. */
    allowed: config.isPending ? undefined : allowed,
    open: async () => (await loadWidget(language)).open(),
    contact: async (topic?: string) => {
      const widget = await loadWidget(language);
      if (widget.contact) widget.contact(topic);
      else widget.open();
    },
  };
}
