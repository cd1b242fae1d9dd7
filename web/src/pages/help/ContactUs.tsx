import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { useGuestChat } from "../../guest/guestChat";
import { useInterfaceLanguage } from "./api";

/** "Still need help? Contact us": hands the visitor to a person through the chat widget's
 * handoff (the widget opens and asks for a person about `topic`); where guests may not chat,
 * the chat page (sign-in first) instead. */
export function ContactUs({ topic }: { topic?: string }) {
  const { t } = useTranslation("help");
  const language = useInterfaceLanguage();
  const guest = useGuestChat(language);
  const [failed, setFailed] = useState(false);
  return (
    <aside className="help-contact" aria-labelledby="help-contact-title">
      <h2 id="help-contact-title">{t("contact.title")}</h2>
      <p>{t("contact.body")}</p>
      {guest.allowed === false ? (
        <Link className="button" to="/chat">
          {t("contact.chat")}
        </Link>
      ) : (
        <button
          type="button"
          disabled={guest.allowed === undefined}
          onClick={() => {
            setFailed(false);
            guest.contact(topic).catch(() => setFailed(true));
          }}
        >
          {t("contact.button")}
        </button>
      )}
      {failed && (
        <p role="alert" className="error">
          {t("contact.failed")}
        </p>
      )}
    </aside>
  );
}
