"""The window checked as a person would look at it, measured in the real
webview: nothing clipped, text readable (contrast), and axe-core's
accessibility rules. Each check returns what it found wrong."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "node_modules" / "axe-core" / "axe.min.js"

# Controls and headers must be whole: inside the window, inside their cell,
# and not cut by the side of a scrolling area (rows scrolled out of view
# above or below are not "cut", nor is a table the page has scrolled
# partly above or below the window). Text that does not fit must say so: an
# ellipsis, and the whole text in a tooltip.
CLIPPING = r"""
const problems = [];
const EPS = 0.5;
const W = window.innerWidth, H = window.innerHeight;
const label = (e) => e.id ? '#' + e.id : `${e.tagName.toLowerCase()}${e.className ? '.' + String(e.className).split(' ')[0] : ''} "${(e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 40)}"`;
function shown(e) {
  if (e.closest('[hidden], dialog:not([open]), details:not([open]) > :not(summary)')) return false;
  const cs = getComputedStyle(e);
  if (cs.display === 'none' || cs.visibility === 'hidden') return false;
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0;
}
function scroller(e) {
  for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
    const cs = getComputedStyle(p);
    if (/(auto|scroll)/.test(cs.overflowX + ' ' + cs.overflowY)) return p;
  }
  return null;
}
// Whether something around `e` scrolls up and down (a page longer than the window).
function scrollsAround(e) {
  for (let p = e.parentElement; p; p = p.parentElement) {
    const cs = getComputedStyle(p);
    if (/(auto|scroll)/.test(cs.overflowY) && p.scrollHeight > p.clientHeight + 1) return true;
  }
  return document.scrollingElement.scrollHeight > H + 1;
}
function inView(e) {
  const r = e.getBoundingClientRect();
  const sc = scroller(e);
  if (!sc) return true;
  const b = sc.getBoundingClientRect();
  return !(r.bottom <= b.top + (sc.id === 'grid' ? document.getElementById('grid-head').offsetHeight : 0) || r.top >= b.top + sc.clientHeight);
}
const controls = 'button, input, select, summary, [role="columnheader"], [role="menuitem"], .badge, .tab, h1, h2, #summary, #selection-count, .toast';
for (const e of document.querySelectorAll(controls)) {
  if (!shown(e) || !inView(e)) continue;
  const r = e.getBoundingClientRect();
  const sc = scroller(e);
  // In a scrolling area, a row half out of view at the top or bottom is
  // scrolling, not clipping; sideways it must be whole.
  const cutV = sc ? false : r.top < -EPS || r.bottom > H + EPS;
  if (r.left < -EPS || r.right > W + EPS || cutV) problems.push(`${label(e)} is not fully inside the window (${Math.round(r.left)},${Math.round(r.top)} → ${Math.round(r.right)},${Math.round(r.bottom)} in ${W}×${H})`);
  if (sc) {
    const b = sc.getBoundingClientRect();
    if (r.left < b.left - EPS || r.right > b.left + sc.clientWidth + EPS) problems.push(`${label(e)} is cut by the side of its scrolling area`);
    const cutSideways = b.left < -EPS || b.right > W + EPS;
    const cutUpOrDown = (b.top < -EPS || b.bottom > H + EPS) && !scrollsAround(sc);
    if (cutSideways || cutUpOrDown) problems.push(`the scrolling area around ${label(e)} is not inside the window`);
  }
  const cell = e.parentElement && e.parentElement.closest('.cell, .hcell, td, th');
  if (cell) {
    const c = cell.getBoundingClientRect();
    if (r.left < c.left - EPS || r.right > c.right + EPS || r.top < c.top - EPS || r.bottom > c.bottom + EPS) problems.push(`${label(e)} sticks out of its cell`);
  }
}
const texts = '.cell, .hlabel, .badge, button, #summary, #selection-count, td, th, p, h1, h2, h3, dt, dd, li, legend, .status-text';
for (const e of document.querySelectorAll(texts)) {
  if (!shown(e) || !inView(e)) continue;
  if (e.scrollWidth <= e.clientWidth + 1) continue;
  const cs = getComputedStyle(e);
  const tip = e.getAttribute('title') || (e.closest('[title]') && e.closest('[title]').getAttribute('title'));
  if (cs.overflowX === 'visible') problems.push(`${label(e)} spills out of its box (${e.scrollWidth} > ${e.clientWidth})`);
  else if (cs.textOverflow !== 'ellipsis' || !tip) problems.push(`${label(e)} is cut without an ellipsis and a tooltip`);
}
return problems;
"""

# WCAG AA: text against what is behind it (backgrounds composited up the
# tree), at least 4.5:1, or 3:1 for large text. Disabled controls are exempt.
CONTRAST = r"""
const problems = [];
function rgba(c) {
  const m = c && c.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
function behind(e) {
  const layers = [];
  for (let p = e; p; p = p.parentElement) {
    const c = rgba(getComputedStyle(p).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let bg = [255, 255, 255, 1];
  for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
  return bg;
}
const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
const lum = (c) => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
function faded(e) {
  for (let p = e; p; p = p.parentElement) if (Number(getComputedStyle(p).opacity) < 1) return true;
  return false;
}
const seen = new Set();
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  if (!n.textContent.trim()) continue;
  const e = n.parentElement;
  if (!e || seen.has(e)) continue;
  seen.add(e);
  if (e.closest('[hidden], dialog:not([open]), details:not([open]) > :not(summary), option, script, style')) continue;
  if (e.closest(':disabled, [aria-disabled="true"]') || faded(e)) continue;
  const cs = getComputedStyle(e);
  if (cs.display === 'none' || cs.visibility === 'hidden') continue;
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || r.bottom < 0 || r.top > innerHeight || r.right < 0 || r.left > innerWidth) continue;
  const bg = behind(e);
  const fg = over(rgba(cs.color), bg);
  const L1 = lum(fg), L2 = lum(bg);
  const ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
  const size = parseFloat(cs.fontSize), bold = Number(cs.fontWeight) >= 700;
  const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
  if (ratio < need) problems.push(`"${n.textContent.trim().slice(0, 40)}" (${e.tagName.toLowerCase()}.${e.className}) ${ratio.toFixed(2)}:1 < ${need}:1 (${cs.color} on rgb(${bg.slice(0, 3).map(Math.round).join(',')}))`);
}
return problems;
"""

AXE_RUN = r"""
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] })
  .then((r) => done(r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ' — ' + (n.failureSummary || '').replace(/\s+/g, ' ')) }))))
  .catch((e) => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));
"""


def clipping(driver):
    return driver.execute_script(CLIPPING)


def contrast(driver):
    return driver.execute_script(CONTRAST)


def axe(driver):
    """axe-core's serious and critical violations on the page as it is."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(AXE.read_text())
    driver.set_script_timeout(120)
    violations = driver.execute_async_script(AXE_RUN)
    return [v for v in violations if v["impact"] in ("serious", "critical")]
