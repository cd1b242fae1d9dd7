import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";
import { errorMessage } from "../../../api/client";
import { FaqForm } from "./FaqForm";
import { useFaq } from "./queries";

/** /admin/faqs/new and /admin/faqs/<id>. */
export function FaqEditor() {
  const { t } = useTranslation("admin");
  const { faqId } = useParams();
  const id = faqId !== undefined ? Number(faqId) : undefined;
  const faq = useFaq(id !== undefined && Number.isInteger(id) ? id : undefined);
  const back = (
    <p className="admin-back">
      <Link to="/admin/faqs">← {t("editor.back")}</Link>
    </p>
  );
  if (id === undefined) {
    return (
      <>
        {back}
        <FaqForm />
      </>
    );
  }
  if (!Number.isInteger(id) || faq.isError) {
    return (
      <>
        {back}
        <h1>{t("editor.notFoundTitle")}</h1>
        <p role="alert" className="error">
          {Number.isInteger(id) ? errorMessage(faq.error, t("editor.loadFailed")) : t("editor.notFound")}
        </p>
      </>
    );
  }
  if (!faq.data) return <p role="status">{t("common:loading")}</p>;
  return (
    <>
      {back}
      {/* Keyed by id: opening another FAQ starts a fresh form. */}
      <FaqForm key={faq.data.id} faq={faq.data} />
    </>
  );
}
