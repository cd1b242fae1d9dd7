import { useEffect, useId, useImperativeHandle, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent, type Ref } from "react";
import { useTranslation } from "react-i18next";
import { clearDraft, loadDraft, saveDraft, type DraftId } from "./drafts";

interface Props {
  draftId: DraftId;
  /** Resolves true once the server accepted the message; false keeps the text in the box. */
  onSend(text: string): Promise<boolean>;
  onStop(): void;
  streaming: boolean;
  maxLength?: number;
  /** Lets the page put the cursor in the box (e.g. "Ask in other words"). */
  handle?: Ref<ComposerHandle>;
}

export interface ComposerHandle {
  focus(): void;
  /** Replace the text (e.g. the last question, to edit and send again) and put the cursor at its end. */
  setText(text: string): void;
}

export function Composer({ draftId, onSend, onStop, streaming, maxLength = 8000, handle }: Props) {
  const { t } = useTranslation("chat");
  const id = useId();
  const [text, setText] = useState(() => loadDraft(draftId));
  const [sending, setSending] = useState(false);
  const box = useRef<HTMLTextAreaElement>(null);
  const shown = useRef(draftId);
  // Set while a message from a new conversation is on its way: when that conversation gets its id,
  // whatever the user typed meanwhile moves with it.
  const adopt = useRef(false);
  useImperativeHandle(
    handle,
    () => ({
      focus: () => box.current?.focus(),
      setText: (value: string) => {
        change(value);
        const el = box.current;
        if (el) {
          el.focus();
          requestAnimationFrame(() => el.setSelectionRange(value.length, value.length));
        }
      },
    }),
    [draftId],
  );

  // The box grows with its text (up to its CSS max-height, then it scrolls).
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${el.scrollHeight + el.offsetHeight - el.clientHeight}px`;
  }, [text]);

  useEffect(() => {
    if (shown.current === draftId) return;
    const previous = shown.current;
    shown.current = draftId;
    if (previous === "new" && adopt.current) {
      adopt.current = false;
      saveDraft(draftId, box.current?.value ?? "");
      saveDraft("new", "");
      return;
    }
    setText(loadDraft(draftId));
  }, [draftId]);

  function change(value: string) {
    setText(value);
    saveDraft(draftId, value);
  }

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    const message = text.trim();
    if (!message || sending || streaming) return;
    const from = draftId;
    setSending(true);
    setText("");
    adopt.current = from === "new";
    try {
      const accepted = await onSend(message);
      if (accepted) clearDraft(shown.current === from ? from : shown.current, text);
      else {
        adopt.current = false;
        // Not sent: give the text back (unless the user already typed something new).
        setText((current) => current || text);
        box.current?.focus();
      }
    } finally {
      setSending(false);
    }
  }

  function keyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void submit();
    } else if (event.key === "Escape" && streaming) {
      event.preventDefault();
      onStop();
    }
  }

  const tooLong = text.length > maxLength;
  return (
    <form className="composer" onSubmit={(e) => void submit(e)}>
      <label htmlFor={id} className="visually-hidden">
        {t("message")}
      </label>
      <textarea
        id={id}
        ref={box}
        rows={1}
        value={text}
        placeholder={t("placeholder")}
        aria-describedby={`${id}-hint`}
        aria-invalid={tooLong || undefined}
        onChange={(e) => change(e.target.value)}
        onKeyDown={keyDown}
      />
      <div className="composer-actions">
        <small id={`${id}-hint`} className={tooLong ? "error" : undefined}>
          {tooLong ? t("tooLong", { max: maxLength }) : streaming ? t("hintStreaming") : t("hint")}
        </small>
        {streaming ? (
          <button type="button" className="danger" onClick={onStop}>
            {t("stop")}
          </button>
        ) : (
          <button type="submit" disabled={sending || !text.trim() || tooLong}>
            {t("send")}
          </button>
        )}
      </div>
    </form>
  );
}
