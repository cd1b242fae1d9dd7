// "You have unsaved changes": a form with edits not yet saved warns before they are lost, both on
// leaving the page (reload, closing the tab: the browser's own beforeunload prompt) and on
// navigating inside the app (a link, the menu, Back: React Router's blocker, our dialog).
import { useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import { useBlocker, type Blocker } from "react-router-dom";
import { ConfirmDialog } from "../../components/ConfirmDialog";

/** Whether two form states differ (plain JSON values: strings, numbers, lists). */
export function isDirty<T>(initial: T, current: T): boolean {
  return JSON.stringify(initial) !== JSON.stringify(current);
}

export interface UnsavedChanges {
  blocker: Blocker;
  /** Let the next navigation through (call it right before navigating away after a save). */
  release(): void;
}

/** Warns while `dirty`; render `blocker` with <UnsavedChangesDialog>. Navigation that stays on the
 * same address (a query string change) is not blocked. */
export function useUnsavedChanges(dirty: boolean): UnsavedChanges {
  // Read when a navigation starts, so a save that navigates at once (before a re-render) can say so.
  const dirtyRef = useRef(dirty);
  dirtyRef.current = dirty;
  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirtyRef.current && currentLocation.pathname !== nextLocation.pathname);
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = ""; // older browsers need it set to show their prompt
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
  // Saved (or undone) while the dialog was up: let the navigation through.
  useEffect(() => {
    if (blocker.state === "blocked" && !dirty) blocker.proceed();
  }, [blocker, dirty]);
  return {
    blocker,
    release: () => {
      dirtyRef.current = false;
    },
  };
}

/** The in-app half of the warning: stay (the default) or leave and lose the edits. */
export function UnsavedChangesDialog({ blocker }: { blocker: Blocker }) {
  const { t } = useTranslation("admin");
  return (
    <ConfirmDialog
      open={blocker.state === "blocked"}
      title={t("unsaved.title")}
      confirmLabel={t("unsaved.leave")}
      onConfirm={() => blocker.proceed?.()}
      onCancel={() => blocker.reset?.()}
    >
      <p>{t("unsaved.body")}</p>
    </ConfirmDialog>
  );
}
