// Synonym sets are typed as one line of terms separated by commas ("parcel, package, shipment").
// The API normalises and checks them too (lower case, single spaces, 2-20 terms of at most 60
// characters, none twice); this gives the form the same reading, so it can say what is wrong
// before sending.

export const MIN_TERMS = 2;
export const MAX_TERMS = 20;
export const MAX_TERM_CHARS = 60;

/** A term as the API stores it: lower case, plain apostrophes, single spaces. */
export function normaliseTerm(term: string): string {
  return term.replace(/[’‘`]/g, "'").toLowerCase().split(/\s+/).filter(Boolean).join(" ");
}

/** The terms of a comma- (or semicolon- or line-) separated list, normalised, empty ones dropped. */
export function parseTerms(text: string): string[] {
  return text
    .split(/[,;\n]/)
    .map(normaliseTerm)
    .filter(Boolean);
}

export type TermsProblem =
  | { kind: "tooFew" }
  | { kind: "tooMany" }
  | { kind: "tooLong"; term: string }
  | { kind: "twice"; term: string };

/** What keeps ``terms`` from being a synonym set, or null when they make one. */
export function termsProblem(terms: string[]): TermsProblem | null {
  if (terms.length < MIN_TERMS) return { kind: "tooFew" };
  if (terms.length > MAX_TERMS) return { kind: "tooMany" };
  const long = terms.find((t) => t.length > MAX_TERM_CHARS);
  if (long) return { kind: "tooLong", term: long };
  const seen = new Set<string>();
  for (const t of terms) {
    if (seen.has(t)) return { kind: "twice", term: t };
    seen.add(t);
  }
  return null;
}

/** The terms as the form shows them for editing. */
export function formatTerms(terms: string[]): string {
  return terms.join(", ");
}
