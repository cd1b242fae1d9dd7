// This browser's Web Push subscription: whether push can work here, subscribing with the server's
// VAPID key (GET /api/v1/push/public-key) and saving the subscription, and unsubscribing.
import { api } from "../../api/client";

export type PushSupport = "supported" | "unsupported" | "denied";

export class PushError extends Error {
  constructor(readonly reason: "denied" | "noWorker" | "failed") {
    super(reason);
  }
}

/** Whether this browser can get pushes from this site (and has not blocked them). */
export function pushSupport(): PushSupport {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return "unsupported";
  return Notification.permission === "denied" ? "denied" : "supported";
}

/** The base64url key the server gives, as the bytes pushManager.subscribe takes. */
export function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(base64url.length / 4) * 4, "=");
  const raw = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** The app's service worker registration, once it is active (undefined if none comes in time). */
async function registration(timeoutMs = 10_000): Promise<ServiceWorkerRegistration | undefined> {
  if (!(await navigator.serviceWorker.getRegistration())) return undefined;
  const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs));
  return Promise.race([navigator.serviceWorker.ready, timeout]);
}

/** The endpoint this browser is subscribed at and the server knows, or null. */
export async function subscribedEndpoint(): Promise<string | null> {
  if (pushSupport() === "unsupported") return null;
  const reg = await navigator.serviceWorker.getRegistration();
  const sub = reg ? await reg.pushManager.getSubscription() : null;
  if (!sub) return null;
  const { data } = await api.GET("/api/v1/push/subscriptions");
  return data?.some((s) => s.endpoint === sub.endpoint) ? sub.endpoint : null;
}

/** Ask for permission, subscribe this browser and save the subscription on the server. */
export async function subscribeBrowser(): Promise<string> {
  if ((await Notification.requestPermission()) !== "granted") throw new PushError("denied");
  const reg = await registration();
  if (!reg) throw new PushError("noWorker");
  const key = await api.GET("/api/v1/push/public-key");
  if (!key.data) throw new PushError("failed");
  let sub = await reg.pushManager.getSubscription();
  sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key.data.public_key) });
  const json = sub.toJSON();
  const { data, error } = await api.POST("/api/v1/push/subscriptions", {
    body: { endpoint: json.endpoint ?? sub.endpoint, keys: { p256dh: json.keys?.p256dh ?? "", auth: json.keys?.auth ?? "" } },
  });
  if (error || !data) throw error ?? new PushError("failed");
  return data.endpoint;
}

/** Delete this browser's subscription on the server, and unsubscribe it. */
export async function unsubscribeBrowser(): Promise<void> {
  const reg = await navigator.serviceWorker.getRegistration();
  const sub = reg ? await reg.pushManager.getSubscription() : null;
  if (!sub) return;
  const { data } = await api.GET("/api/v1/push/subscriptions");
  const mine = data?.find((s) => s.endpoint === sub.endpoint);
  if (mine) {
    const { error } = await api.DELETE("/api/v1/push/subscriptions/{subscription_id}", {
      params: { path: { subscription_id: mine.id } },
    });
    if (error) throw error;
  }
  await sub.unsubscribe();
}
