/**
 * Pan and zoom on the view (render/view.ts): the wheel zooms about the cursor; a drag pans when it
 * is a pan gesture — with Shift, Ctrl, Alt or Meta held, with the middle button, or in pan mode —
 * so that a plain drag on the rim still paints with the η brush (demo/main.ts). "reset view" resets.
 */
import { onField, type ViewTransform } from '../render/view';

export interface PanZoomOptions {
  /** screen px (the 640×480 view) of a pointer or wheel event */
  pos(ev: MouseEvent): [number, number];
  /** pan mode on: every left drag pans */
  panMode(): boolean;
  /** the view changed */
  changed(): void;
}

/** Wires the wheel and pan drags on `el`; returns whether a pointer-down was taken as a pan. */
export function wirePanZoom(el: HTMLElement, view: ViewTransform, o: PanZoomOptions): (ev: PointerEvent) => boolean {
  el.addEventListener('wheel', (ev) => {
    const p = o.pos(ev);
    if (!onField(p)) return;
    ev.preventDefault();
    // a notch of a mouse wheel (deltaY ≈ 100) zooms by ~1.2; trackpads give smaller deltas
    const lines = ev.deltaMode === 1 ? 33 : ev.deltaMode === 2 ? 400 : 1;
    view.zoomAt(p, Math.exp((-ev.deltaY * lines) / 550));
    o.changed();
  }, { passive: false });
  let drag: { id: number; last: [number, number] } | null = null;
  el.addEventListener('pointermove', (ev) => {
    if (!drag || ev.pointerId !== drag.id) return;
    const p = o.pos(ev);
    view.pan(p[0] - drag.last[0], p[1] - drag.last[1]);
    drag.last = p;
    o.changed();
  });
  const end = (ev: PointerEvent) => { if (drag && ev.pointerId === drag.id) { drag = null; el.style.cursor = ''; } };
  el.addEventListener('pointerup', end);
  el.addEventListener('pointercancel', end);
  // the page calls this first on pointerdown: true = a pan began (no painting)
  return (ev: PointerEvent) => {
    const p = o.pos(ev);
    const gesture = ev.button === 1 || (ev.button === 0 && (ev.shiftKey || ev.ctrlKey || ev.altKey || ev.metaKey || o.panMode()));
    if (!gesture || !onField(p)) return false;
    ev.preventDefault();
    el.setPointerCapture(ev.pointerId);
    drag = { id: ev.pointerId, last: p };
    el.style.cursor = 'grabbing';
    return true;
  };
}
