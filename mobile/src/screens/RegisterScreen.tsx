// Registration with the consents the API asks for: processing of the user's data (required:
// the API refuses a registration without it), the privacy policy (gdpr_consent) and marketing
// (optional), each a separate, unticked switch.
import { useState } from "react";
import { ScrollView, Switch, Text, View } from "react-native";
import { api, errorMessage } from "../api/client";
import { session } from "../auth/session";
import { useApp } from "../app";
import { useI18n } from "../i18n";
import { Button, ErrorText, Field, LinkButton } from "../ui/parts";
import { styles } from "../ui/theme";

function deviceTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function Consent({ label, value, onChange }: { label: string; value: boolean; onChange(v: boolean): void }) {
  return (
    <View style={[styles.row, { justifyContent: "space-between" }]}>
      <Text style={[styles.bubbleText, { flex: 1, fontSize: 15 }]}>{label}</Text>
      <Switch accessibilityLabel={label} value={value} onValueChange={onChange} />
    </View>
  );
}

export function RegisterScreen() {
  const { t, language } = useI18n();
  const { navigate } = useApp();
  const [server, setServer] = useState(session.baseUrl());
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [processing, setProcessing] = useState(false);
  const [gdpr, setGdpr] = useState(false);
  const [marketing, setMarketing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit() {
    if (!processing) {
      setError(t("consentRequired"));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await session.setServer(server);
      const { response, error: failure } = await api().POST("/api/v1/auth/register", {
        body: {
          email: email.trim(),
          password,
          language,
          timezone: deviceTimezone(),
          data_processing_consent: processing,
          gdpr_consent: gdpr,
          marketing_consent: marketing,
        },
      });
      if (response.ok) navigate({ name: "login", notice: t("registered") });
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
        {t("createAccount")}
      </Text>
      <Field label={t("server")} value={server} onChangeText={setServer} keyboardType="url" autoCorrect={false} />
      <Field label={t("email")} value={email} onChangeText={setEmail} keyboardType="email-address" autoComplete="email" />
      <Field label={t("password")} value={password} onChangeText={setPassword} secureTextEntry autoComplete="new-password" />
      <Consent label={t("consentProcessing")} value={processing} onChange={setProcessing} />
      <Consent label={t("consentGdpr")} value={gdpr} onChange={setGdpr} />
      <Consent label={t("consentMarketing")} value={marketing} onChange={setMarketing} />
      <ErrorText message={error} />
      <Button label={t("register")} onPress={() => void submit()} disabled={busy || !email || !password} />
      <LinkButton label={t("haveAccount")} onPress={() => navigate({ name: "login" })} />
    </ScrollView>
  );
}
