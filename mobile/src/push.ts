// Push notifications through Expo's push service: ask the user, get this device's Expo push
// token and register it with Helpline (POST /api/v1/push/expo-tokens), which sends the
// notifications the user's settings allow through Expo. Not in the web build (the web app has
// Web Push of its own).
import { Platform } from "react-native";
import Constants from "expo-constants";
import * as Device from "expo-device";
import * as Notifications from "expo-notifications";
import { api, errorMessage } from "./api/client";

export type PushOutcome = "registered" | "denied" | "unavailable";

export async function registerForPush(): Promise<PushOutcome> {
  if (Platform.OS === "web" || !Device.isDevice) return "unavailable";
  if (Platform.OS === "android") {
    await Notifications.setNotificationChannelAsync("default", {
      name: "Helpline",
      importance: Notifications.AndroidImportance.DEFAULT,
    });
  }
  let { status } = await Notifications.getPermissionsAsync();
  if (status !== "granted") status = (await Notifications.requestPermissionsAsync()).status;
  if (status !== "granted") return "denied";
  const extra = Constants.expoConfig?.extra as { eas?: { projectId?: string } } | undefined;
  const projectId = extra?.eas?.projectId ?? Constants.easConfig?.projectId;
  const { data: token } = await Notifications.getExpoPushTokenAsync(projectId ? { projectId } : undefined);
  const { error } = await api().POST("/api/v1/push/expo-tokens", { body: { token } });
  if (error) throw new Error(errorMessage(error, "The server refused this device's push token"));
  return "registered";
}

/** Notifications shown while the app is open, too. */
export function showNotificationsInForeground(): void {
  if (Platform.OS === "web") return;
  Notifications.setNotificationHandler({
    handleNotification: async () => ({
      shouldPlaySound: false,
      shouldSetBadge: false,
      shouldShowBanner: true,
      shouldShowList: true,
    }),
  });
}

/** Where a notification's `data.url` (a path of the web app) leads in this app. */
export function routeOfUrl(url: unknown): { name: "chat"; conversationId: number } | { name: "account" } | { name: "conversations" } {
  if (typeof url === "string") {
    const chat = /^\/chat\/(\d+)$/.exec(url);
    if (chat) return { name: "chat", conversationId: Number(chat[1]) };
    if (url.startsWith("/account")) return { name: "account" };
  }
  return { name: "conversations" };
}

/** Open what a tapped notification is about; returns the unsubscribe. */
export function onNotificationTap(open: (url: unknown) => void): () => void {
  if (Platform.OS === "web") return () => undefined;
  const subscription = Notifications.addNotificationResponseReceivedListener((response) => {
    open((response.notification.request.content.data as { url?: unknown } | undefined)?.url);
  });
  return () => subscription.remove();
}
