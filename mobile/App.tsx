import { useEffect, useState } from "react";
import { ActivityIndicator, Pressable, Text, View } from "react-native";
import { SafeAreaProvider, SafeAreaView } from "react-native-safe-area-context";
import { StatusBar } from "expo-status-bar";
import { api } from "./src/api/client";
import { session } from "./src/auth/session";
import { AppProvider, useApp, type User } from "./src/app";
import { I18nProvider, useI18n } from "./src/i18n";
import { onNotificationTap, routeOfUrl, showNotificationsInForeground } from "./src/push";
import { AccountScreen } from "./src/screens/AccountScreen";
import { ChatScreen } from "./src/screens/ChatScreen";
import { ConversationsScreen } from "./src/screens/ConversationsScreen";
import { HelpScreen } from "./src/screens/HelpScreen";
import { LoginScreen } from "./src/screens/LoginScreen";
import { RegisterScreen } from "./src/screens/RegisterScreen";
import { styles } from "./src/ui/theme";

function Tabs() {
  const { t } = useI18n();
  const { route, navigate } = useApp();
  const tabs = [
    { name: "conversations", label: t("conversations") },
    { name: "help", label: t("help") },
    { name: "account", label: t("account") },
  ] as const;
  return (
    <View style={styles.tabs} accessibilityRole="tablist">
      {tabs.map((tab) => (
        <Pressable
          key={tab.name}
          accessibilityRole="tab"
          accessibilityLabel={tab.label}
          aria-selected={route.name === tab.name}
          style={styles.tab}
          onPress={() => navigate({ name: tab.name })}
        >
          <Text style={[styles.tabText, route.name === tab.name ? styles.tabActive : null]}>{tab.label}</Text>
        </Pressable>
      ))}
    </View>
  );
}

export function Screens() {
  const { route, navigate, user } = useApp();
  // A tapped notification opens its conversation (or the account, for a finished data export).
  useEffect(() => {
    if (!user) return;
    return onNotificationTap((url) => navigate(routeOfUrl(url)));
  }, [user, navigate]);
  switch (route.name) {
    case "login":
      return <LoginScreen notice={route.notice} />;
    case "register":
      return <RegisterScreen />;
    case "chat":
      return <ChatScreen key={route.thread ?? route.conversationId} conversationId={route.conversationId} thread={route.thread} />;
    case "conversations":
    case "help":
    case "account":
      return (
        <View style={{ flex: 1 }}>
          <View style={{ flex: 1 }}>
            {route.name === "conversations" ? <ConversationsScreen /> : route.name === "help" ? <HelpScreen query={route.query} /> : <AccountScreen />}
          </View>
          <Tabs />
        </View>
      );
  }
}

export default function App() {
  const [ready, setReady] = useState(false);
  const [user, setUser] = useState<User | null>(null);

  useEffect(() => {
    showNotificationsInForeground();
    void (async () => {
      if (await session.load()) {
        try {
          const { data } = await api().GET("/api/v1/users/me");
          setUser(data ?? null);
        } catch {
          // Offline at start: the saved session stays; the user signs in again if it has ended.
        }
      }
      setReady(true);
    })();
  }, []);

  if (!ready) {
    return (
      <View style={[styles.screen, { justifyContent: "center" }]}>
        <ActivityIndicator />
      </View>
    );
  }
  return (
    <SafeAreaProvider>
      <I18nProvider initial={user?.language}>
        <AppProvider initialUser={user}>
          <SafeAreaView style={styles.screen}>
            <StatusBar style="dark" />
            <Screens />
          </SafeAreaView>
        </AppProvider>
      </I18nProvider>
    </SafeAreaProvider>
  );
}
