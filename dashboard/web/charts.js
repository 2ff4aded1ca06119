// A small SVG line chart of running totals over chain time. Plain ES module: no build step.
import { esc, utc } from "./format.js";

/**
 * series: [{ t, ...values }] (t in chain seconds); lines: [{ key, label, color, value(point) }].
 * Each line is scaled to its own maximum (the legend gives the totals), so tokens and token
 * amounts share one chart.
 */
export function lineChart(series, lines, legendValue) {
  if (!series.length) return `<div class="empty">No activity yet: the chart starts with the first committed job.</div>`;
  const W = 800;
  const H = 180;
  const pad = { l: 8, r: 8, t: 10, b: 20 };
  const t0 = series[0].t;
  const t1 = Math.max(series.at(-1).t, t0 + 1);
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (W - pad.l - pad.r);
  const paths = lines.map((line) => {
    const max = Math.max(...series.map((p) => line.value(p)), 1e-18);
    const y = (v) => H - pad.b - (v / max) * (H - pad.t - pad.b);
    // Running totals step up at each point: draw steps, not slopes.
    let d = "";
    series.forEach((p, i) => {
      const v = y(line.value(p));
      d += i === 0 ? `M${x(p.t).toFixed(1)},${v.toFixed(1)}` : `H${x(p.t).toFixed(1)}V${v.toFixed(1)}`;
    });
    return `<path d="${d}" fill="none" stroke="${line.color}" stroke-width="2"/>`;
  });
  const svg = `<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="running totals">
    <line class="axis" x1="${pad.l}" x2="${W - pad.r}" y1="${H - pad.b}" y2="${H - pad.b}"/>
    ${paths.join("")}
    <text x="${pad.l}" y="${H - 5}">${esc(utc(t0))}</text>
    <text x="${W - pad.r}" y="${H - 5}" text-anchor="end">${esc(utc(t1))}</text>
  </svg>`;
  const legend = lines.map((l) => `<span><i style="background:${l.color}"></i>${esc(l.label)}: ${esc(legendValue(l, series.at(-1)))}</span>`).join("");
  return `${svg}<div class="legend">${legend}</div>`;
}
