/**
 * The small bar under the field view: reset the pan / zoom, pan mode (a plain drag pans instead of
 * painting), and "save view PNG". The wheel zooms about the cursor; Shift/Ctrl/Alt-drag or the
 * middle button pans at any time (ui/panZoom.ts).
 */
export interface ViewBarActions {
  resetView(): void;
  panMode(on: boolean): void;
  saveViewPng(): void;
}

export function wireViewBar(host: HTMLElement, a: ViewBarActions): void {
  const button = (text: string, fn: () => void) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.onclick = fn;
    host.appendChild(b);
    return b;
  };
  button('⟲ reset view', a.resetView).dataset.action = 'reset-view';
  const pan = button('✋ pan mode: off', () => {
    const on = pan.getAttribute('aria-pressed') !== 'true';
    pan.setAttribute('aria-pressed', String(on));
    pan.textContent = `✋ pan mode: ${on ? 'on' : 'off'}`;
    a.panMode(on);
  });
  pan.dataset.action = 'pan-mode';
  pan.setAttribute('aria-pressed', 'false');
  button('save view PNG', a.saveViewPng).dataset.action = 'save-view-png';
  const hint = document.createElement('span');
  hint.className = 'hint';
  hint.textContent = 'wheel: zoom about the cursor · Shift-drag or middle-drag: pan';
  host.appendChild(hint);
}
