/** Client-side routing: the path as a signal, in-page navigation for same-origin links. */
import { signal } from '@preact/signals';

export const path = signal(location.pathname);

export function navigate(to: string): void {
  if (to === location.pathname) return;
  history.pushState(null, '', to);
  path.value = to;
  window.scrollTo(0, 0);
}

window.addEventListener('popstate', () => (path.value = location.pathname));

/** Plain left clicks on same-origin links route in the page; modified clicks keep browser behaviour. */
export function onLinkClick(ev: MouseEvent): void {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = (ev.target as Element).closest('a');
  if (!a || a.origin !== location.origin || a.target) return;
  ev.preventDefault();
  navigate(a.pathname);
}

export function match(pattern: string, p: string): Record<string, string> | null {
  const pp = pattern.split('/');
  const parts = p.replace(/\/+$/, '').split('/');
  if (p === '/' && pattern === '/') return {};
  if (pp.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pp.length; i++) {
    if (pp[i].startsWith(':')) params[pp[i].slice(1)] = decodeURIComponent(parts[i]);
    else if (pp[i] !== parts[i]) return null;
  }
  return params;
}
