import { useCallback, useEffect, useState } from "react";
import { FlatList, Pressable, RefreshControl, Text, View } from "react-native";
import { api, errorMessage, type Schemas } from "../api/client";
import { useApp } from "../app";
import { useI18n } from "../i18n";
import { Button, ErrorText, Header } from "../ui/parts";
import { styles } from "../ui/theme";
import { uuid4 } from "../chat/uuid";

type Conversation = Schemas["ConversationRead"];

export function ConversationsScreen() {
  const { t } = useI18n();
  const { navigate, answered, outboxState } = useApp();
  const [items, setItems] = useState<Conversation[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [refreshing, setRefreshing] = useState(false);

  const load = useCallback(async () => {
    setRefreshing(true);
    try {
      const { data, error: failure } = await api().GET("/api/v1/conversations", { params: { query: { limit: 50 } } });
      if (data) {
        setItems(data.items);
        setError(null);
      } else setError(errorMessage(failure, t("error")));
    } catch (e) {
      setError(errorMessage(e, t("error")));
    } finally {
      setRefreshing(false);
    }
  }, [t]);

  useEffect(() => {
    void load();
  }, [load, answered]);

  const waiting = outboxState.items.length;
  return (
    <View style={styles.screen}>
      <Header title={t("conversations")} />
      {!outboxState.online ? <Text style={[styles.notice, { padding: 12 }]}>{t("offline")}</Text> : null}
      {waiting > 0 ? (
        <Text style={[styles.notice, { paddingHorizontal: 12 }]}>
          {t("queued")}: {waiting}
        </Text>
      ) : null}
      <ErrorText message={error} />
      <FlatList
        data={items ?? []}
        keyExtractor={(c) => String(c.id)}
        refreshControl={<RefreshControl refreshing={refreshing} onRefresh={() => void load()} />}
        ListEmptyComponent={items ? <Text style={[styles.notice, { padding: 16 }]}>{t("noConversations")}</Text> : null}
        renderItem={({ item }) => (
          <Pressable
            accessibilityRole="button"
            accessibilityLabel={item.title ?? t("untitled")}
            style={styles.listItem}
            onPress={() => navigate({ name: "chat", conversationId: item.id })}
          >
            <Text style={styles.listTitle} numberOfLines={1}>
              {item.title ?? t("untitled")}
            </Text>
            <Text style={styles.small}>
              {item.message_count} · {new Date(item.last_message_at ?? item.created_at).toLocaleString()}
            </Text>
          </Pressable>
        )}
      />
      <View style={{ padding: 12 }}>
        <Button label={t("newChat")} onPress={() => navigate({ name: "chat", conversationId: null, thread: uuid4() })} />
      </View>
    </View>
  );
}
