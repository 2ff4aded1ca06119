// Formatting for the page: token amounts from base-unit strings (exact BigInt arithmetic, so a
// displayed amount is the chain's amount rounded once), times relative to the chain's clock,
// addresses and HTML escaping. Plain ES module: no build step.

/** HTML-escape anything interpolated into markup. */
export function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** Base units → a JS number of whole tokens (for charts and ratios only: not exact). */
export function toNumber(base, decimals) {
  return Number(BigInt(base)) / 10 ** decimals;
}

/**
 * Base units → text. Large amounts get two decimals and thousands separators; amounts of at
 * least one token up to four decimals; smaller ones four significant digits (a per-token price of
 * 0.0001 must not read as 0.00).
 */
export function amount(base, decimals) {
  let v = BigInt(base);
  const neg = v < 0n;
  if (neg) v = -v;
  if (v === 0n) return "0";
  const one = 10n ** BigInt(decimals);
  let places;
  if (v >= 1000n * one) places = 2;
  else if (v >= one) places = 4;
  else {
    // Four significant digits: count the leading zeros after the point.
    const digits = v.toString().length;
    places = Math.min(decimals, decimals - digits + 4);
  }
  places = Math.min(places, decimals);
  const scale = 10n ** BigInt(decimals - places);
  const rounded = (v + scale / 2n) / scale; // half up, once
  const int = rounded / 10n ** BigInt(places);
  let frac = places > 0 ? (rounded % 10n ** BigInt(places)).toString().padStart(places, "0") : "";
  // Large amounts keep their two decimals; the rest drop trailing zeros (at least two when ≥ 1).
  if (v < 1000n * one) frac = frac.replace(/0+$/, "").padEnd(int >= 1n ? Math.min(2, places) : 0, "0");
  const intText = int.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${neg ? "−" : ""}${intText}${frac ? `.${frac}` : ""}`;
}

/** An integer count with thousands separators. */
export function count(n) {
  return Number(n).toLocaleString("en-US");
}

/** Seconds → "45s", "12m", "3h 20m", "7d". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.round((s % 3600) / 60);
    return m ? `${h}h ${m}m` : `${h}h`;
  }
  const d = Math.floor(s / 86400);
  const h = Math.round((s % 86400) / 3600);
  return h ? `${d}d ${h}h` : `${d}d`;
}

/** A chain time relative to the chain's "now" (the head block's timestamp). */
export function relative(t, now) {
  if (!t) return "";
  const d = t - now;
  if (Math.abs(d) < 2) return "now";
  return d > 0 ? `in ${duration(d)}` : `${duration(-d)} ago`;
}

/** Chain seconds → "2026-05-01 12:30 UTC". */
export function utc(t) {
  if (!t) return "";
  return `${new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** 0x1234…abcd */
export function short(addr, head = 6, tail = 4) {
  if (!addr) return "";
  return addr.length <= head + tail + 1 ? addr : `${addr.slice(0, head)}…${addr.slice(-tail)}`;
}

/** A stable hue per address, so the same node is recognizable across tables. */
export function hue(addr) {
  let h = 0;
  for (const c of String(addr).toLowerCase()) h = (h * 31 + c.charCodeAt(0)) % 360;
  return h;
}

/** Basis points → "2.5 %". */
export function bps(v) {
  return `${Number((v / 100).toFixed(2))} %`;
}

/** A fraction → "4 %" (two significant digits below 10 %). */
export function percent(f) {
  const p = f * 100;
  return `${p >= 10 || p === 0 ? Math.round(p) : Number(p.toPrecision(2))} %`;
}
