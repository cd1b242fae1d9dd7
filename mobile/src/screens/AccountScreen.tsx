// The account: language, push notifications, the data export (the user's right of access) and
// erasure (the right to be forgotten), sign out.
import { useState } from "react";
import { Platform, Pressable, ScrollView, Text, View } from "react-native";
import { api, authFetch, errorMessage, type Schemas } from "../api/client";
import { session } from "../auth/session";
import { useApp } from "../app";
import { LANGUAGES, useI18n } from "../i18n";
import { registerForPush } from "../push";
import { saveAndShare } from "../download";
import { Button, ErrorText, Field, Header } from "../ui/parts";
import { styles } from "../ui/theme";

type Export = Schemas["ExportRead"];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function AccountScreen() {
  const { t, language, setLanguage } = useI18n();
  const { user, setUser, signOut } = useApp();
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [exported, setExported] = useState<Export | null>(null);
  const [password, setPassword] = useState("");
  const [confirming, setConfirming] = useState(false);

  async function chooseLanguage(code: string) {
    setLanguage(code);
    const { data, error: failure } = await api().PATCH("/api/v1/users/me", { body: { language: code } });
    if (data) setUser(data);
    else setError(errorMessage(failure, t("error")));
  }

  async function push() {
    setError(null);
    try {
      const outcome = await registerForPush();
      setNotice(outcome === "registered" ? t("pushOn") : outcome === "unavailable" ? t("pushUnavailable") : null);
    } catch (e) {
      setError(e instanceof Error ? e.message : t("error"));
    }
  }

  async function requestExport() {
    setError(null);
    const { data, error: failure } = await api().POST("/api/v1/privacy/export");
    if (!data) {
      setError(errorMessage(failure, t("error")));
      return;
    }
    setNotice(t("exportRequested"));
    let current = data;
    for (let i = 0; i < 60 && current.status !== "done" && current.status !== "failed"; i++) {
      await sleep(2000);
      const next = await api().GET("/api/v1/privacy/export/{export_id}", { params: { path: { export_id: current.id } } });
      if (!next.data) break;
      current = next.data;
    }
    setExported(current);
    if (current.status === "done") setNotice(t("exportReady"));
  }

  async function download(item: Export) {
    if (!item.download_url) return;
    const url = item.download_url.startsWith("http") ? item.download_url : `${session.baseUrl()}${item.download_url}`;
    const name = `helpline-data-${item.id}.zip`;
    if (Platform.OS === "web") {
      const response = await authFetch(new Request(url));
      if (!response.ok) {
        setError(t("error"));
        return;
      }
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = name;
      link.click();
      return;
    }
    // On a phone: saved into the app's documents with the access token, then the share sheet
    // (Files, Mail, another app).
    await session.refresh();
    try {
      await saveAndShare(url, name, session.get()?.access_token ?? "");
    } catch (e) {
      setError(e instanceof Error ? e.message : t("error"));
    }
  }

  async function erase() {
    setError(null);
    const { response, error: failure } = await api().DELETE("/api/v1/users/me", { body: { current_password: password } });
    if (response.ok) await signOut(t("deleted"));
    else setError(errorMessage(failure, t("error")));
  }

  return (
    <View style={styles.screen}>
      <Header title={t("account")} />
      <ScrollView contentContainerStyle={styles.form}>
        <Text style={styles.notice}>
          {t("signedInAs")} {user?.email}
        </Text>
        <Text style={styles.label}>{t("language")}</Text>
        <View style={[styles.row, { flexWrap: "wrap" }]} accessibilityRole="radiogroup" accessibilityLabel={t("language")}>
          {LANGUAGES.map((l) => (
            <Pressable
              key={l.code}
              accessibilityRole="radio"
              accessibilityLabel={l.label}
              aria-checked={language === l.code}
              onPress={() => void chooseLanguage(l.code)}
              style={[styles.chip, language === l.code ? styles.chipActive : null]}
            >
              <Text>{l.label}</Text>
            </Pressable>
          ))}
        </View>
        <Text style={styles.label}>{t("notifications")}</Text>
        <Button label={t("enablePush")} onPress={() => void push()} />
        <Button label={t("exportData")} onPress={() => void requestExport()} kind="plain" />
        {exported?.status === "done" && exported.download_url ? (
          <Button label={`${t("exportReady")} ↓`} onPress={() => void download(exported)} kind="plain" />
        ) : null}
        {notice ? <Text style={styles.notice}>{notice}</Text> : null}
        <ErrorText message={error} />
        {confirming ? (
          <View style={{ gap: 8 }}>
            <Text style={styles.notice}>{t("deleteConfirm")}</Text>
            <Field label={t("password")} value={password} onChangeText={setPassword} secureTextEntry />
            <Button label={t("deleteAccount")} onPress={() => void erase()} kind="danger" disabled={!password} />
          </View>
        ) : (
          <Button label={t("deleteAccount")} onPress={() => setConfirming(true)} kind="danger" />
        )}
        <Button label={t("signOut")} onPress={() => void signOut()} kind="plain" />
      </ScrollView>
    </View>
  );
}
