// Every language has every string English has (and no other), in every namespace: a screen never
// shows a raw key in one language.
const files = import.meta.glob<{ default: object }>("./locales/*/*.json", { eager: true });

function keys(tree: object, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([k, v]) => (v && typeof v === "object" ? keys(v as object, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

const byPath = Object.fromEntries(Object.entries(files).map(([path, mod]) => [path, mod.default]));
const namespaces = Object.keys(byPath)
  .filter((path) => path.startsWith("./locales/en/"))
  .map((path) => path.slice("./locales/en/".length));

describe("translations", () => {
  it("cover the chat and admin screens", () => {
    expect(namespaces).toEqual(expect.arrayContaining(["chat.json", "admin.json"]));
  });
  it.each(["es", "fr", "de"].flatMap((lang) => namespaces.map((ns) => [lang, ns])))("%s/%s has the same keys as en", (lang, ns) => {
    const strings = byPath[`./locales/${lang}/${ns}`] ?? {};
    expect(keys(strings).sort()).toEqual(keys(byPath[`./locales/en/${ns}`] ?? {}).sort());
  });
});
