import { Route, Routes } from "react-router-dom";
import { FaqEditor } from "./faqs/FaqEditor";
import { FaqList } from "./faqs/FaqList";

/** /admin/faqs: the list with its filters, /admin/faqs/new and /admin/faqs/<id> the editor. */
export default function FaqsPage() {
  return (
    <Routes>
      <Route index element={<FaqList />} />
      <Route path="new" element={<FaqEditor />} />
      <Route path=":faqId" element={<FaqEditor />} />
    </Routes>
  );
}
