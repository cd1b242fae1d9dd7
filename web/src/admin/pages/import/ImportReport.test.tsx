import { render, screen, within } from "@testing-library/react";
import "../../../i18n";
import { ImportReport } from "./ImportReport";

const base = { created: 2, updated: 1, unchanged: 0, categories_created: 1, dry_run: false };

describe("ImportReport", () => {
  it("lists the counts and each rejected row with its reason", () => {
    render(
      <ImportReport
        fileName="faqs.csv"
        report={{ ...base, rejected: [{ row: 3, reason: "answer: must not be empty", kind: "faq" }, { row: 1, reason: "name: required", kind: "category" }] }}
      />,
    );
    const report = screen.getByRole("region", { name: "Report for faqs.csv" });
    expect(within(report).getByRole("status")).toHaveTextContent("2 rows were rejected");
    const rows = within(screen.getByRole("table", { name: "Rejected rows" })).getAllByRole("row");
    expect(rows.map((r) => r.textContent)).toEqual(["RowKindReason", "3FAQanswer: must not be empty", "1Categoryname: required"]);
    expect(within(report).getByText("Created").nextSibling).toHaveTextContent("2");
  });

  it("says a dry run changed nothing and shows no table without rejections", () => {
    render(<ImportReport fileName="faqs.json" report={{ ...base, dry_run: true, rejected: [] }} />);
    expect(screen.getByRole("region", { name: "Dry run for faqs.json: nothing was changed" })).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("This is what an import would do.");
    expect(screen.queryByRole("table")).toBeNull();
  });
});
