import { useState } from "react";
import { ScrollView, Text } from "react-native";
import { api, errorMessage } from "../api/client";
import { session } from "../auth/session";
import { useApp } from "../app";
import { useI18n } from "../i18n";
import { Button, ErrorText, Field, LinkButton } from "../ui/parts";
import { styles } from "../ui/theme";

export function LoginScreen({ notice }: { notice?: string }) {
  const { t } = useI18n();
  const { signIn, navigate } = useApp();
  const [server, setServer] = useState(session.baseUrl());
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit() {
    setBusy(true);
    setError(null);
    try {
      await session.setServer(server);
      const { data, error: failure } = await api().POST("/api/v1/auth/login", { body: { login: login.trim(), password } });
      if (data) await signIn(data);
      else setError(errorMessage(failure, t("error")));
    } catch (e) {
      setError(errorMessage(e, t("error")));
    } finally {
      setBusy(false);
    }
  }

  return (
    <ScrollView style={styles.screen} contentContainerStyle={styles.form} keyboardShouldPersistTaps="handled">
      <Text accessibilityRole="header" style={styles.title}>
        {t("appName")}
      </Text>
      {notice ? <Text style={styles.notice}>{notice}</Text> : null}
      <Field label={t("server")} value={server} onChangeText={setServer} keyboardType="url" autoCorrect={false} />
      <Field
        label={t("emailOrUsername")}
        value={login}
        onChangeText={setLogin}
        keyboardType="email-address"
        autoComplete="email"
        autoCorrect={false}
      />
      <Field
        label={t("password")}
        value={password}
        onChangeText={setPassword}
        secureTextEntry
        autoComplete="password"
        onSubmitEditing={() => void submit()}
      />
      <ErrorText message={error} />
      <Button label={busy ? t("signingIn") : t("signIn")} onPress={() => void submit()} disabled={busy || !login || !password} />
      <LinkButton label={t("createAccount")} onPress={() => navigate({ name: "register" })} />
    </ScrollView>
  );
}
