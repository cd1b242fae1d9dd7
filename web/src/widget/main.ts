// Helpline's embeddable chat widget. One script tag adds a chat bubble to any page:
//
//   <script src="https://helpline.example/widget.js" data-helpline-key="SITE_KEY" async></script>
//
// The API is the script's own origin unless data-helpline-api says otherwise; the language is
// data-helpline-language, else the page's <html lang>, else the browser's; the theme is
// data-helpline-theme ("light" or "dark"), else the page's own (<html data-theme>), else the
// system's preference (widget/theme.ts). Sites with their own
// button call window.HelplineWidget.open() / .close(); a "contact us" link calls
// window.HelplineWidget.contact("what it is about") to hand the conversation to a person.
import { HelplineClient } from "./api";
import { pickLanguage, strings } from "./i18n";
import { Widget } from "./widget";

interface HelplineWidgetApi {
  open(): void;
  close(): void;
  /** Open and ask for a person (the conversation's first message when there is none yet). */
  contact(topic?: string): void;
}

declare global {
  interface Window {
    HelplineWidget?: HelplineWidgetApi;
  }
}

// Captured now: document.currentScript is only set while this script first runs.
const script = (document.currentScript ??
  document.querySelector("script[data-helpline-key], script[src*='widget.js']")) as HTMLScriptElement | null;

function apiBase(): string | null {
  const override = script?.dataset.helplineApi;
  try {
    return new URL(override || script?.src || "", document.baseURI).origin;
  } catch {
    return null;
  }
}

async function boot(): Promise<void> {
  const base = apiBase();
  if (!base || base === "null" || window.HelplineWidget) return; // no usable origin, or loaded twice
  const lang = pickLanguage(script?.dataset.helplineLanguage, document.documentElement.lang, navigator.language);
  const client = new HelplineClient(base, script?.dataset.helplineKey || null, lang);

  let widget: Widget | null = null;
  let wantOpen = false;
  let wantContact: { topic?: string } | null = null;
  window.HelplineWidget = {
    open: () => (widget ? widget.open() : (wantOpen = true)),
    close: () => (widget ? widget.close() : ((wantOpen = false), (wantContact = null))),
    contact: (topic?: string) => (widget ? widget.contact(topic) : (wantContact = { topic })),
  };

  let config;
  try {
    config = await client.config();
    if (!config || !config.enabled) return; // switched off, or not this site's key: nothing to show
  } catch {
    config = null; // unreachable: the bubble stays, and says so when opened
  }
  widget = new Widget(client, strings(lang), config, script?.dataset.helplineTheme);
  const mount = () => {
    document.body.appendChild((widget as Widget).view.host);
    if (wantContact) widget?.contact(wantContact.topic);
    else if (wantOpen) widget?.open();
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
}

void boot();
