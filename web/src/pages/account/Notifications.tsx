import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, errorMessage, type Schemas } from "../../api/client";
import { PushError, pushSupport, subscribeBrowser, subscribedEndpoint, unsubscribeBrowser, type PushSupport } from "./push";

type Choice = Schemas["NotificationChoice"];
type Settings = Schemas["NotificationSettings"];

/** Which notifications reach the user, per kind and channel; each box saves on its own. Security
 * mails always go out. The push column is about this browser: a box is ticked when the setting is
 * on and this browser is subscribed. Ticking one in a browser not subscribed yet asks for
 * permission, subscribes it, and turns that kind on and the other push kinds off (the column
 * then shows what this device will get); unticking the last one unsubscribes the browser. */
export function NotificationSettings() {
  const { t } = useTranslation("account");
  const queryClient = useQueryClient();
  const [support, setSupport] = useState<PushSupport>(pushSupport);
  const settings = useQuery({
    queryKey: ["me", "notifications"],
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/users/me/notifications");
      if (error || !data) throw error ?? new Error("No answer");
      return data;
    },
  });
  const browser = useQuery({
    queryKey: ["me", "push", "browser"],
    queryFn: subscribedEndpoint,
    enabled: support !== "unsupported",
  });
  const subscribed = Boolean(browser.data);
  const rows = settings.data?.settings ?? [];

  const put = async (choices: Choice[]): Promise<Settings> => {
    const { data, error } = await api.PUT("/api/v1/users/me/notifications", { body: { settings: choices } });
    if (error || !data) throw error ?? new Error("No answer");
    return data;
  };
  const save = useMutation({
    mutationFn: async (choice: Choice) => {
      if (choice.channel !== "push") return put([choice]);
      const pushRows = rows.filter((r) => r.channel === "push");
      if (choice.enabled && !subscribed) {
        await subscribeBrowser();
        const data = await put(pushRows.map((r) => ({ ...r, enabled: r.kind === choice.kind })));
        queryClient.setQueryData(["me", "push", "browser"], true);
        return data;
      }
      const data = await put([choice]);
      if (!choice.enabled && !data.settings.some((r) => r.channel === "push" && r.enabled)) {
        await unsubscribeBrowser();
        queryClient.setQueryData(["me", "push", "browser"], null);
      }
      return data;
    },
    onSuccess: (data) => queryClient.setQueryData(["me", "notifications"], data),
    onError: (error) => {
      if (error instanceof PushError && error.reason === "denied") setSupport(pushSupport());
    },
  });
  const kinds = [...new Set(rows.map((r) => r.kind))];
  const channels = [...new Set(rows.map((r) => r.channel))];
  const find = (channel: string, kind: string) => rows.find((r) => r.channel === channel && r.kind === kind);
  const pushUsable = support === "supported" && !browser.isPending;
  const failure =
    save.error instanceof PushError
      ? t(`notifications.push.${save.error.reason}`)
      : errorMessage(save.error);

  return (
    <section className="account-card" aria-labelledby="account-notifications">
      <h2 id="account-notifications">{t("notifications.title")}</h2>
      {settings.isPending && <p role="status">{t("common:loading")}</p>}
      {settings.isError && <p role="alert" className="error">{errorMessage(settings.error)}</p>}
      {rows.length > 0 && (
        <table className="notification-table">
          <caption className="visually-hidden">{t("notifications.title")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("notifications.kind")}</th>
              {channels.map((c) => (
                <th scope="col" key={c}>{t(`notifications.channels.${c}`)}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {kinds.map((kind) => (
              <tr key={kind}>
                <th scope="row">{t(`notifications.kinds.${kind}`)}</th>
                {channels.map((channel) => {
                  const choice = find(channel, kind);
                  const isPush = channel === "push";
                  // While a box saves, it shows the choice; if saving fails, the stored one returns.
                  const pending = save.isPending && save.variables.channel === channel && save.variables.kind === kind;
                  const stored = Boolean(choice?.enabled) && (!isPush || subscribed);
                  const enabled = pending ? save.variables.enabled : stored;
                  return (
                    <td key={channel}>
                      {choice && (
                        <input
                          type="checkbox"
                          aria-label={`${t(`notifications.kinds.${kind}`)}: ${t(`notifications.channels.${channel}`)}`}
                          checked={enabled}
                          disabled={save.isPending || (isPush && !pushUsable)}
                          onChange={(e) => save.mutate({ ...choice, enabled: e.target.checked })}
                        />
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {rows.some((r) => r.channel === "push") && (
        <p className="push-state">
          {support === "unsupported"
            ? t("notifications.push.unsupported")
            : support === "denied"
              ? t("notifications.push.denied")
              : browser.isPending
                ? ""
                : t(subscribed ? "notifications.push.on" : "notifications.push.off")}
        </p>
      )}
      <small>{t("notifications.always")}</small>
      <p role="status">{save.isSuccess ? t("notifications.saved") : ""}</p>
      {save.isError && <p role="alert" className="error">{failure}</p>}
    </section>
  );
}
