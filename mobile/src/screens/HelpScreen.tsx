import { useCallback, useEffect, useState } from "react";
import { FlatList, Pressable, Text, View } from "react-native";
import { api, errorMessage, type Schemas } from "../api/client";
import { useApp } from "../app";
import { useI18n } from "../i18n";
import { Button, ErrorText, Field, Header, LinkButton } from "../ui/parts";
import { styles } from "../ui/theme";

type Hit = Schemas["SearchHit"];

export function HelpScreen({ query: initial }: { query?: string }) {
  const { t, language } = useI18n();
  const { back } = useApp();
  const [query, setQuery] = useState(initial ?? "");
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [suggestion, setSuggestion] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);

  const search = useCallback(
    async (q: string) => {
      if (!q.trim()) return;
      setError(null);
      try {
        const { data, error: failure } = await api().GET("/api/v1/faqs/search", {
          params: { query: { q: q.trim(), language, limit: 10 } },
        });
        if (data) {
          setHits(data.items);
          setSuggestion(data.suggestion ?? null);
          setOpen(null);
        } else setError(errorMessage(failure, t("error")));
      } catch (e) {
        setError(errorMessage(e, t("error")));
      }
    },
    [language, t],
  );

  useEffect(() => {
    if (initial) void search(initial);
  }, [initial, search]);

  return (
    <View style={styles.screen}>
      <Header title={t("help")} left={initial ? <LinkButton label={t("back")} onPress={back} /> : undefined} />
      <View style={styles.form}>
        <Field
          label={t("searchHelp")}
          value={query}
          onChangeText={setQuery}
          returnKeyType="search"
          onSubmitEditing={() => void search(query)}
        />
        <Button label={t("search")} onPress={() => void search(query)} disabled={!query.trim()} />
        <ErrorText message={error} />
        {suggestion ? (
          <LinkButton
            label={`${t("didYouMean")} "${suggestion}"?`}
            onPress={() => {
              setQuery(suggestion);
              void search(suggestion);
            }}
          />
        ) : null}
      </View>
      <FlatList
        data={hits ?? []}
        keyExtractor={(h) => String(h.id)}
        ListEmptyComponent={hits ? <Text style={[styles.notice, { padding: 16 }]}>{t("noResults")}</Text> : null}
        renderItem={({ item }) => (
          <Pressable
            accessibilityRole="button"
            accessibilityLabel={item.question}
            aria-expanded={open === item.id}
            style={styles.listItem}
            onPress={() => setOpen(open === item.id ? null : item.id)}
          >
            <Text style={[styles.listTitle, { fontWeight: "600" }]}>{item.question}</Text>
            {open === item.id ? <Text style={[styles.bubbleText, { marginTop: 6 }]}>{item.answer}</Text> : null}
          </Pressable>
        )}
      />
    </View>
  );
}
