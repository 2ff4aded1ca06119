import type { SeriesPoint } from "../indexer/ledger.js";

/** Running totals at one time (s), amounts in base units as decimal strings. */
export type CumulativePoint = { t: number; tokensIn: number; tokensOut: number; fee: string; auditFee: string; proverPaid: string; slashed: string };

/**
 * The charts' data: running totals from the first activity to `until` (the head's time). At most
 * `maxPoints` points: past that, one point per equal time bucket, taken at the bucket's last
 * activity, so every plotted value is an exact running total and the last one is the total.
 */
export function cumulativeSeries(points: readonly SeriesPoint[], until: bigint, maxPoints = 240): CumulativePoint[] {
  if (points.length === 0) return [];
  const first = points[0]!.time;
  const last = points.at(-1)!.time;
  const width = points.length <= maxPoints ? 0n : (last - first) / BigInt(maxPoints - 2) + 1n;
  const out: CumulativePoint[] = [{ t: Number(first), tokensIn: 0, tokensOut: 0, fee: "0", auditFee: "0", proverPaid: "0", slashed: "0" }];
  let tokensIn = 0n;
  let tokensOut = 0n;
  let fee = 0n;
  let auditFee = 0n;
  let proverPaid = 0n;
  let slashed = 0n;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    tokensIn += p.tokensIn;
    tokensOut += p.tokensOut;
    fee += p.fee;
    auditFee += p.auditFee;
    proverPaid += p.proverPaid;
    slashed += p.slashed;
    const next = points[i + 1];
    const bucketEnds = !next || width === 0n || (next.time - first) / width !== (p.time - first) / width;
    if (bucketEnds) out.push({ t: Number(p.time), tokensIn: Number(tokensIn), tokensOut: Number(tokensOut), fee: fee.toString(), auditFee: auditFee.toString(), proverPaid: proverPaid.toString(), slashed: slashed.toString() });
  }
  const end = out.at(-1)!;
  if (BigInt(end.t) < until) out.push({ ...end, t: Number(until) });
  return out;
}
