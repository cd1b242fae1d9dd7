import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

/** Put text on the clipboard (the Clipboard API; a hidden textarea where it is missing). */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) return navigator.clipboard.writeText(text);
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy failed");
}

/** A "Copy" button that says "Copied" for a moment (announced politely to screen readers). */
export function CopyButton({ text, label, className }: { text: () => string; label: string; className?: string }) {
  const { t } = useTranslation();
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  async function copy() {
    try {
      await copyText(text());
      setState("copied");
    } catch {
      setState("failed");
    }
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setState("idle"), 2000);
  }
  return (
    <>
      <button type="button" className={`secondary ${className ?? "copy-button"}`} aria-label={label} onClick={() => void copy()}>
        {state === "copied" ? t("copied") : t("copy")}
      </button>
      <span role="status" className="visually-hidden">
        {state === "copied" ? t("copied") : state === "failed" ? t("copyFailed") : ""}
      </span>
    </>
  );
}
