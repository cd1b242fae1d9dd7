// Whether a sideways-scrolling element has more content before or after what shows: the admin
// menu on a phone fades its edges (and shows a "›") while there is more to scroll to, and brings
// the current screen's tab into view.
import { useCallback, useEffect, useRef, useState } from "react";

export interface Edges {
  start: boolean;
  end: boolean;
}

/** What is hidden on each side of a scroll box, from its measurements (1 px of slack for rounding). */
export function scrollEdges(scrollLeft: number, clientWidth: number, scrollWidth: number): Edges {
  return { start: scrollLeft > 1, end: scrollLeft + clientWidth < scrollWidth - 1 };
}

export function useScrollEdges<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  const [edges, setEdges] = useState<Edges>({ start: false, end: false });
  const measure = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    const next = scrollEdges(el.scrollLeft, el.clientWidth, el.scrollWidth);
    setEdges((old) => (old.start === next.start && old.end === next.end ? old : next));
  }, []);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    // The current screen's tab in view (a phone opening /admin/jobs sees "Jobs" selected).
    const active = el.querySelector<HTMLElement>("a.active, a[aria-current='page']");
    if (active && el.scrollWidth > el.clientWidth) el.scrollLeft = Math.max(0, active.offsetLeft - el.clientWidth / 3);
    measure();
    el.addEventListener("scroll", measure, { passive: true });
    const observer = typeof ResizeObserver === "function" ? new ResizeObserver(measure) : null;
    observer?.observe(el);
    window.addEventListener("resize", measure);
    return () => {
      el.removeEventListener("scroll", measure);
      observer?.disconnect();
      window.removeEventListener("resize", measure);
    };
  }, [measure]);
  return { ref, edges };
}
