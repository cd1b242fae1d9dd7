// Web Push in the installed app: imported by the service worker that vite-plugin-pwa generates
// (vite.config.ts, workbox.importScripts). A push carries JSON {title, body, url, kind, tag}
// (helpline.push.schemas.PushMessage), already in the user's language.
// An answer or a person's reply ("answer_ready", "human_reply") is shown only when no window of
// the app is in view: the user who is looking at the app sees it there already.
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    (async () => {
      if (data.kind === "answer_ready" || data.kind === "human_reply") {
        const windows = await self.clients.matchAll({ type: "window" });
        if (windows.some((w) => w.visibilityState === "visible")) return;
      }
      await self.registration.showNotification(data.title || "Helpline", {
        body: data.body || "",
        tag: data.tag || undefined,
        icon: "/icons/icon-192.png",
        badge: "/icons/icon-192.png",
        data: { url: typeof data.url === "string" ? data.url : "/" },
      });
    })(),
  );
});

// A click opens the notification's page: in a window of the app already open (focused, and
// navigated there), else in a new one. Only the app's own pages: a url elsewhere opens the app.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  let url = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  if (url.origin !== self.location.origin) url = new URL("/", self.location.origin);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const same = windows.find((w) => w.url === url.href) || windows.find((w) => new URL(w.url).origin === url.origin);
      if (same) {
        const focused = await same.focus();
        if (same.url !== url.href && "navigate" in focused) await focused.navigate(url.href);
        return;
      }
      await self.clients.openWindow(url.href);
    })(),
  );
});
