import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";
import { useAuth } from "../../auth/AuthProvider";
import { useGuestChat } from "../../guest/guestChat";
import { useInterfaceLanguage } from "./api";
import { contactAsUser, contactMessage } from "./contact";

/** "Still need help? Contact us": hands the reader to a person. A signed-in user gets a
 * conversation of their own, handed to a person, opened in the chat page; a visitor goes through
 * the chat widget's handoff as a guest (the widget opens and asks for a person about `topic`),
 * or, where guests may not chat, to the chat page (sign-in first). */
export function ContactUs({ topic }: { topic?: string }) {
  const { t } = useTranslation("help");
  const { user, loading } = useAuth();
  return (
    <aside className="help-contact" aria-labelledby="help-contact-title">
      <h2 id="help-contact-title">{t("contact.title")}</h2>
      <p>{t("contact.body")}</p>
      {loading ? (
        <button type="button" disabled>
          {t("contact.button")}
        </button>
      ) : user ? (
        <AsUser topic={topic} />
      ) : (
        <AsGuest topic={topic} />
      )}
    </aside>
  );
}

function Failed() {
  const { t } = useTranslation("help");
  return (
    <p role="alert" className="error">
      {t("contact.failed")}
    </p>
  );
}

function AsUser({ topic }: { topic?: string }) {
  const { t } = useTranslation("help");
  const language = useInterfaceLanguage();
  const navigate = useNavigate();
  const [state, setState] = useState<"idle" | "sending" | "failed">("idle");
  const contact = () => {
    setState("sending");
    const message = contactMessage(topic, t("contact.message"), (about) => t("contact.messageAbout", { topic: about }));
    contactAsUser(message, language).then(
      (id) => navigate(`/chat/${id}`),
      () => setState("failed"),
    );
  };
  return (
    <>
      <button type="button" disabled={state === "sending"} onClick={contact}>
        {t("contact.button")}
      </button>
      {state === "failed" && <Failed />}
    </>
  );
}

function AsGuest({ topic }: { topic?: string }) {
  const { t } = useTranslation("help");
  const language = useInterfaceLanguage();
  const guest = useGuestChat(language);
  const [failed, setFailed] = useState(false);
  return (
    <>
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
      {failed && <Failed />}
    </>
  );
}
