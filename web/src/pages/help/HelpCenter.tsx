import { Route, Routes } from "react-router-dom";
import { CategoryPage } from "./CategoryPage";
import { FaqPage } from "./FaqPage";
import { HelpHome } from "./HelpHome";
import { HelpNotFound } from "./parts";
import "./help.css";

/** The public help center, mounted at /help/*: what visitors browse and search engines index. */
export default function HelpCenter() {
  return (
    <div className="help">
      <Routes>
        <Route index element={<HelpHome />} />
        <Route path="c/:categorySlug" element={<CategoryPage />} />
        <Route path=":slug" element={<FaqPage />} />
        <Route path="*" element={<HelpNotFound />} />
      </Routes>
    </div>
  );
}
