// Unsent text, kept per conversation in localStorage as the user types, so a reload, a crash or
// a 401 → sign in → back trip loses nothing.
const PREFIX = "helpline.draft.";

export type DraftId = number | "new";

function key(id: DraftId): string {
  return PREFIX + String(id);
}

export function loadDraft(id: DraftId): string {
  try {
    return localStorage.getItem(key(id)) ?? "";
  } catch {
    return "";
  }
}

export function saveDraft(id: DraftId, text: string): void {
  try {
    if (text) localStorage.setItem(key(id), text);
    else localStorage.removeItem(key(id));
  } catch {
    // storage full or disabled: the text is still in the box
  }
}

/** Forget the draft once it was sent, unless the user has typed something else since. */
export function clearDraft(id: DraftId, sent?: string): void {
  if (sent === undefined || loadDraft(id) === sent) saveDraft(id, "");
}
