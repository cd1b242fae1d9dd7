// Every language of the chat screen has every string English has (and no other): a screen never
// shows a raw key in one language.
import de from "../../i18n/locales/de/chat.json";
import en from "../../i18n/locales/en/chat.json";
import es from "../../i18n/locales/es/chat.json";
import fr from "../../i18n/locales/fr/chat.json";

function keys(tree: object, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([k, v]) => (v && typeof v === "object" ? keys(v as object, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

describe("chat strings", () => {
  it.each([
    ["es", es],
    ["fr", fr],
    ["de", de],
  ])("%s has the same keys as en", (_, strings) => {
    expect(keys(strings).sort()).toEqual(keys(en).sort());
  });
});
