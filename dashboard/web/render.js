// Snapshot → HTML for each section of the page. Every value from the snapshot goes through esc()
// (endpoints and model names come from the chain and the nodes: anyone can set them).
import { amount, bps, count, duration, esc, hue, percent, relative, short, toNumber, utc } from "./format.js";
import { lineChart } from "./charts.js";

const addr = (a) => (a ? `<span class="addr" style="--h:${hue(a)}" title="${esc(a)}">${esc(short(a))}</span>` : "");
const pill = (text, cls = text) => `<span class="pill ${esc(cls)}">${esc(text)}</span>`;
const table = (head, rows, empty) =>
  rows.length
    ? `<div class="wrap"><table><thead><tr>${head.map((h) => `<th${h.startsWith("#") ? ' class="num"' : ""}>${esc(h.replace(/^#/, ""))}</th>`).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r}</tr>`).join("")}</tbody></table></div>`
    : `<div class="empty">${esc(empty)}</div>`;
const num = (v) => `<td class="num">${v}</td>`;
const td = (v) => `<td>${v}</td>`;

export function renderTotals(s) {
  const d = s.token.decimals;
  const tok = (v) => `${amount(v, d)} <span class="muted">${esc(s.token.symbol)}</span>`;
  const t = s.totals;
  const detection = s.models.length ? Math.min(...s.models.map((m) => m.detection)) : undefined;
  const cards = [
    ["Tokens served", count(t.tokensIn + t.tokensOut), `${count(t.tokensIn)} in · ${count(t.tokensOut)} out`],
    ["Paid to provers", tok(t.proverPaid), `fees ${amount(t.fees, d)} · audit fees ${amount(t.auditFees, d)}`],
    ["Slashed", tok(t.slashed), `rewards ${amount(t.slashRewards, d)}`],
    ["Audit pool", tok(s.balances.auditPool), `reserved ${amount(s.balances.auditReserved, d)} · paid ${amount(t.auditPaid, d)}`],
    ["Jobs", count(t.jobs.total), `${t.jobs.open} open · ${t.jobs.committed} committed · ${t.jobs.finalized} finalized · ${t.jobs.slashed} slashed`],
    ["Disputes", count(t.disputes.total), `${t.disputes.live} live`],
    ["Staked", tok(s.balances.totalStaked), `escrowed ${amount(s.balances.totalEscrowed, d)}`],
    ["Detection probability", detection === undefined ? "–" : percent(detection), s.models.length > 1 ? "lowest over the models" : `audit rate ${bps(s.params.auditRateBps)}, ${s.params.boundaries} boundaries`],
  ];
  return cards.map(([label, value, sub]) => `<div class="card" data-card="${esc(label)}"><div class="label">${esc(label)}</div><div class="value">${value}</div><div class="sub">${esc(sub)}</div></div>`).join("");
}

export function renderChart(s) {
  const d = s.token.decimals;
  const lines = [
    { key: "tokens", label: "tokens served", color: "#2563eb", value: (p) => p.tokensIn + p.tokensOut, text: (p) => count(p.tokensIn + p.tokensOut) },
    { key: "paid", label: "paid to provers", color: "#15803d", value: (p) => toNumber(p.proverPaid, d), text: (p) => amount(p.proverPaid, d) },
    { key: "slashed", label: "slashed", color: "#b91c1c", value: (p) => toNumber(p.slashed, d), text: (p) => amount(p.slashed, d) },
  ];
  return lineChart(s.series, lines, (l, p) => l.text(p));
}

const modelName = (id, name) => (name ? `${esc(name)} <span class="muted addr-plain" title="${esc(id)}">${esc(short(id, 8, 4))}</span>` : `<span title="${esc(id)}">${esc(short(id, 10, 4))}</span>`);

export function renderModels(s) {
  return table(
    ["model", "#audit rate", "#detection probability", "#audit pool"],
    s.models.map((m) => td(modelName(m.id, m.name)) + num(bps(m.auditRateBps)) + num(percent(m.detection)) + num(count(m.poolSize))),
    "No model registered yet.",
  );
}

export function renderProvers(s) {
  const d = s.token.decimals;
  const now = s.chain.headTime;
  return table(
    ["prover", "endpoint", "#stake", "#free", "#exposure", "#limit", "jail", "offers (in / out per token)", "#jobs", "#tokens", "#earned", "#slashed", "disputes"],
    s.provers.map((p) => {
      const health = p.health ? pill(p.health.ok ? "up" : p.health.error ?? `HTTP ${p.health.status}`, p.health.ok ? "ok" : "bad") : "";
      const jail = p.jailedUntil > now ? pill(`jailed, ${relative(p.jailedUntil, now)}`, "bad") : `<span class="muted">free</span>`;
      const offers = p.offers.filter((o) => o.active).map((o) => `${modelName(o.modelId, o.name)}: ${amount(o.inputPrice, d)} / ${amount(o.outputPrice, d)}`).join("<br>") || `<span class="muted">none</span>`;
      return (
        `<td data-prover="${esc(p.address.toLowerCase())}">${addr(p.address)}</td>` +
        td(`${esc(p.endpoint)} ${health}`) +
        num(amount(p.stake, d)) +
        num(amount(p.free, d)) +
        num(amount(p.exposure, d)) +
        num(amount(p.exposureLimit, d)) +
        td(jail) +
        td(offers) +
        num(`${count(p.jobsServed)}/${count(p.jobsOpened)}`) +
        num(count(p.tokensServed)) +
        num(amount(p.earned, d)) +
        num(amount(p.slashed, d)) +
        td(`${p.disputesWon} won · ${p.disputesLost} lost`)
      );
    }),
    "No prover registered yet.",
  );
}

export function renderVerifiers(s) {
  const d = s.token.decimals;
  return table(
    ["verifier", "pools", "#stake", "#bond", "#audits (assigned / agreed / disputed)", "#misses", "#audit pay (claimed + unclaimed)", "#slash rewards", "disputes", "state"],
    s.verifiers.map((v) => {
      const state = v.ejected ? pill(v.ejectedSlashed ? "ejected, slashed" : "ejected", "bad") : v.registered ? pill("active", "ok") : pill("challenger only", "warn");
      return (
        td(addr(v.address)) +
        td(v.pools.map((p) => modelName(p.modelId, p.name)).join("<br>") || `<span class="muted">none</span>`) +
        num(amount(v.stake, d)) +
        num(amount(v.bond, d)) +
        num(`${v.auditsAssigned} / ${v.auditsReported} / ${v.auditsDisputed}`) +
        num(`${v.misses}`) +
        num(`${amount(v.auditPayClaimed, d)} + ${amount(v.auditPayUnclaimed, d)}`) +
        num(amount(v.slashRewards, d)) +
        td(`${v.disputesOpened} opened · ${v.disputesWon} won`) +
        td(state)
      );
    }),
    "No verifier yet.",
  );
}

export function renderJobs(s) {
  const d = s.token.decimals;
  const now = s.chain.headTime;
  return table(
    ["job", "state", "prover", "client", "model", "#tokens (in + out)", "#price", "audit", "when"],
    s.jobs.shown.map((j) => {
      const price = j.paid ?? j.escrowed;
      const when = j.settledAt ? `settled ${relative(j.settledAt, now)}` : j.challengeDeadline ? `window ends ${relative(j.challengeDeadline, now)}` : `opened ${relative(j.openedAt, now)}`;
      const audit = j.audit.state === "None" ? `<span class="muted">–</span>` : `${pill(j.audit.state)}${j.audit.auditor ? ` ${addr(j.audit.auditor)}` : ""}${j.audit.canary ? " canary" : ""}`;
      return (
        `<td data-job="${esc(j.id)}">#${esc(j.id)}</td>` +
        td(`${pill(j.status)}${j.openDisputes ? ` ${pill(`${j.openDisputes} dispute${j.openDisputes > 1 ? "s" : ""}`, "bad")}` : ""}`) +
        td(addr(j.prover)) +
        td(addr(j.client)) +
        td(modelName(j.modelId, j.modelName)) +
        num(`${count(j.inputTokens)} + ${j.outputTokens === undefined ? "…" : count(j.outputTokens)}`) +
        num(`${amount(price, d)}${j.paid ? "" : ' <span class="muted">escrowed</span>'}${j.slashed ? ` <span class="muted">slashed ${amount(j.slashed, d)}</span>` : ""}`) +
        td(audit) +
        td(`<span title="${esc(utc(j.settledAt ?? j.openedAt))}">${esc(when)}</span>`)
      );
    }),
    "No job yet.",
  );
}

export function renderDisputes(s) {
  const d = s.token.decimals;
  const now = s.chain.headTime;
  return table(
    ["dispute", "job", "kind", "challenger", "prover", "#stake", "state", "outcome", "detail"],
    s.disputes.shown.map((x) => {
      const where = x.kind === "step" ? `step t=${x.position}, layer ${x.layer}` : "availability";
      const state = x.live ? `${pill(x.phase, "warn")} ${x.turn ? `${esc(x.turn)} to move` : ""}${x.deadline ? `, deadline ${esc(relative(x.deadline, now))}` : ""}` : esc(x.phase);
      const outcome = x.outcome ? pill(x.outcome, x.outcome === "challenger won" ? "bad" : x.outcome === "prover won" ? "ok" : "") : "";
      return (
        td(`<span class="addr-plain" title="${esc(x.id)}">${esc(short(x.id, 10, 4))}</span>`) +
        td(`#${esc(x.jobId)}`) +
        td(esc(where)) +
        td(addr(x.challenger)) +
        td(addr(x.prover)) +
        num(amount(x.stake, d)) +
        td(state) +
        td(outcome) +
        `<td style="white-space:normal">${esc(x.detail ?? "")}</td>`
      );
    }),
    "No dispute yet: nobody has challenged a result.",
  );
}

export function renderBooks(s) {
  const d = s.token.decimals;
  return table(
    ["contract", "#holds", "#owes", "solvent"],
    s.balances.books.map((b) => td(esc(b.contract)) + num(amount(b.holds, d)) + num(amount(b.owes, d)) + td(b.ok ? pill("yes", "ok") : pill("NO", "bad"))),
    "",
  );
}

export function renderStatus(s) {
  if (s.error) return { state: "stale", text: `RPC failing for ${duration((Date.now() - s.error.since) / 1000)}: showing block ${s.chain.indexed}` };
  if (!s.chain.caughtUp) return { state: "catching-up", text: `indexing: block ${s.chain.indexed} of ${s.chain.head}` };
  return { state: "live", text: `chain ${s.chain.id} · head ${s.chain.head} · ${utc(s.chain.headTime)}` };
}

export function renderFooter(s) {
  return `RPC ${esc(s.chain.rpcUrl)} · JobEscrow ${esc(s.contracts.jobEscrow ?? "")} · token ${esc(s.token.symbol)} ${esc(s.token.address)} · fee ${esc(bps(s.params.feeBps))}, audit fee ${esc(bps(s.params.auditFeeBps))}, challenge window ${esc(duration(s.params.challengeWindow))} · snapshot ${s.version}`;
}
