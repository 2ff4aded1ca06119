import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterEach, describe, expect, it } from "vitest";
import { signRequest } from "../../protocol/auth/request-signature.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { ApiError } from "../../prover-node/errors.js";
import { ipBucketKey, RateLimiter } from "../../prover-node/http/rate-limit.js";
import { createRequestAuth, registeredVerifiers, type IsVerifier } from "../../prover-node/http/request-auth.js";
import { createHttpServer } from "../../prover-node/http/server.js";
import { registerTraceRoutes } from "../../prover-node/http/trace-routes.js";
import { createProverMetrics } from "../../prover-node/metrics.js";
import type { JobRow, ProverDb } from "../../prover-node/state/db.js";
import { RequestNonces } from "../../prover-node/state/request-nonces.js";
import type { TraceStore } from "../../runtime/trace/store.js";
import { HttpTraceSource } from "../../verifier-node/http-trace-source.js";
import { TraceUnavailableError } from "../../verifier-node/trace-source.js";

const PROVER = privateKeyToAccount(generatePrivateKey()).address;
const CLIENT = privateKeyToAccount(generatePrivateKey());
const REGISTRY = "0x00000000000000000000000000000000000000aa" as Address;

/** A chain stand-in that counts reads and can fail them (no RPC in these tests: only the HTTP layer is under test). */
function fakeChain(o: { fail?: boolean } = {}) {
  const reads: string[] = [];
  const clients = {
    chain: { id: 31337 },
    deployment: { contracts: { nodeRegistry: REGISTRY } },
    publicClient: {
      readContract: async (r: { functionName: string }) => {
        reads.push(r.functionName);
        if (o.fail) throw new Error("fetch failed: ECONNREFUSED");
        return r.functionName === "minVerifierStake" ? 10n : { role: 0, stake: 0n, endpoint: "" };
      },
    },
  } as unknown as StepproofClients;
  return { clients, reads };
}

function makeApp(clients: StepproofClients, isVerifier: IsVerifier, knownJobs: bigint[] = [7n], signedIpLimiter = new RateLimiter({ perSecond: 1000, burst: 1000 })) {
  const row = (jobId: bigint): JobRow => ({ jobId, state: "committed", inputTokens: 3, outputTokenIds: [1], traceRoot: undefined, outputRoot: undefined, commitDeadline: 0, corrupted: false, commitTx: undefined, error: undefined, client: CLIENT.address });
  const db = { job: (id: bigint) => (knownJobs.includes(id) ? row(id) : undefined), setClient: () => {} } as unknown as ProverDb;
  const nonces = new RequestNonces(mkdtempSync(join(tmpdir(), "sp-nonces-")));
  const auth = createRequestAuth({ chainId: 31337, prover: PROVER, nonces, isVerifier, limiter: new RateLimiter({ perSecond: 1000, burst: 1000 }), signedIpLimiter });
  const app = createHttpServer({
    bodyLimit: 1024,
    logger: pino({ level: "silent" }),
    metrics: createProverMetrics(),
    health: async () => ({}),
    ipLimiter: new RateLimiter({ perSecond: 1000, burst: 1000 }),
    authorizeMetrics: async () => {
      throw new ApiError(401, "signature_required", "sign it");
    },
    maxConnections: 64,
    maxConnectionsPerIp: 32,
    timeouts: { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000, idleMs: 600_000 },
  });
  registerTraceRoutes(app, { db, store: {} as TraceStore, auth, clients });
  return app;
}

const signedGet = async (app: ReturnType<typeof makeApp>, url: string, signer = privateKeyToAccount(generatePrivateKey()), remoteAddress = "10.0.0.1") =>
  app.inject({ url, remoteAddress, headers: await signRequest(signer, { chainId: 31337, prover: PROVER, method: "GET", target: url }) });

describe("trace access under chain failure and fresh keys (review H3)", () => {
  it("answers 503 chain_unavailable with Retry-After, not 500, when the verifier registry cannot be read", async () => {
    const { clients } = fakeChain({ fail: true });
    const app = makeApp(clients, registeredVerifiers(clients));
    const res = await signedGet(app, "/v1/jobs/7");
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: { code: "chain_unavailable" } });
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    await app.close();
  });

  it("caches a 'not registered' answer and reads minVerifierStake once per TTL", async () => {
    const { clients, reads } = fakeChain();
    const app = makeApp(clients, registeredVerifiers(clients));
    const stranger = privateKeyToAccount(generatePrivateKey());
    expect((await signedGet(app, "/v1/jobs/7", stranger)).statusCode).toBe(403);
    expect((await signedGet(app, "/v1/jobs/7", stranger)).statusCode).toBe(403);
    expect(reads).toEqual(["getNode", "minVerifierStake"]);
    // A fresh key costs one read (getNode), not two.
    expect((await signedGet(app, "/v1/jobs/7")).statusCode).toBe(403);
    expect(reads.length).toBe(3);
    await app.close();
  });

  it("bounds the chain reads fresh keys from one IP can cause: past the miss budget, 429 without a read", async () => {
    const { clients, reads } = fakeChain();
    const app = makeApp(clients, registeredVerifiers(clients, { missLimiter: new RateLimiter({ perSecond: 0.001, burst: 3 }) }));
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await signedGet(app, "/v1/jobs/7")).statusCode);
    expect(codes).toEqual([403, 403, 403, 429, 429, 429]);
    expect(reads.filter((r) => r === "getNode").length).toBe(3);
    // Another IP has its own budget; the job's client needs no lookup at all.
    expect((await signedGet(app, "/v1/jobs/7", undefined, "10.0.0.2")).statusCode).toBe(403);
    expect((await signedGet(app, "/v1/jobs/7", CLIENT)).statusCode).toBe(200);
    await app.close();
  });
});

describe("verifier trace reads retry a prover's transient 5xx (review H3)", () => {
  let close: (() => void) | undefined;
  afterEach(() => close?.());

  it("retries a 500 like a 503 before counting the prover as not serving", async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.writeHead(500, { "content-type": "application/json", "retry-after": "0" }).end('{"error":{"code":"internal_error"}}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    close = () => server.close();
    const port = (server.address() as { port: number }).port;
    const verifier = privateKeyToAccount(generatePrivateKey());
    const clients = {
      chain: { id: 31337 },
      deployment: { contracts: { nodeRegistry: REGISTRY } },
      walletClient: { account: verifier },
      publicClient: { readContract: async () => ({ endpoint: `http://127.0.0.1:${port}/` }) },
    } as unknown as StepproofClients;
    const source = new HttpTraceSource(clients);
    await expect(source.fetchLeaf({ jobId: 7n, prover: PROVER as Hex, traceRoot: `0x${"00".repeat(32)}`, layer: 0, row: 0, chunk: 0 })).rejects.toThrow(TraceUnavailableError);
    expect(hits).toBe(5);
  }, 20_000);
});

describe("signed requests per IP, before recovery (review H2)", () => {
  it("refuses garbage signatures past the IP's signed budget without recovering them, IPv6 by /64", async () => {
    const { clients } = fakeChain();
    const app = makeApp(clients, registeredVerifiers(clients), [7n], new RateLimiter({ perSecond: 0.001, burst: 2 }));
    const garbage = { "x-stepproof-signer": CLIENT.address, "x-stepproof-expiry": String(Math.floor(Date.now() / 1000) + 60), "x-stepproof-nonce": `0x${"11".repeat(16)}`, "x-stepproof-signature": `0x${"22".repeat(65)}` };
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await app.inject({ url: "/v1/jobs/7", remoteAddress: "2001:db8:1:2::1", headers: garbage })).statusCode);
    // Another address in the same /64 shares the bucket; another /64 does not.
    codes.push((await app.inject({ url: "/v1/jobs/7", remoteAddress: "2001:db8:1:2:ffff::9", headers: garbage })).statusCode);
    codes.push((await app.inject({ url: "/v1/jobs/7", remoteAddress: "2001:db8:1:3::1", headers: garbage })).statusCode);
    expect(codes).toEqual([401, 401, 429, 429, 401]);
    // Unsigned requests do not spend it (they cost no recovery).
    expect((await app.inject({ url: "/v1/jobs/7", remoteAddress: "10.9.9.9" })).statusCode).toBe(401);
    await app.close();
  });

  it("keys IPv6 by /64 and IPv4-mapped addresses as IPv4", () => {
    expect(ipBucketKey("10.1.2.3")).toBe("10.1.2.3");
    expect(ipBucketKey("::ffff:10.1.2.3")).toBe("10.1.2.3");
    expect(ipBucketKey("2001:db8:0001:2::1")).toBe("2001:db8:1:2::/64");
    expect(ipBucketKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(ipBucketKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(ipBucketKey("::1")).toBe("0:0:0:0::/64");
  });
});

describe("a signed stranger cannot tell which jobs a prover served (review L1)", () => {
  it("answers 403 not_entitled alike for a served job and an unknown one; a registered verifier still gets 404", async () => {
    const { clients } = fakeChain();
    const verifier = privateKeyToAccount(generatePrivateKey());
    const isVerifier: IsVerifier = async (a) => a === verifier.address;
    const app = makeApp(clients, isVerifier, [7n]);
    const stranger = privateKeyToAccount(generatePrivateKey());
    const known = await signedGet(app, "/v1/jobs/7/trace?layer=0&positions=0", stranger);
    const unknown = await signedGet(app, "/v1/jobs/8/trace?layer=0&positions=0", stranger);
    expect([known.statusCode, unknown.statusCode]).toEqual([403, 403]);
    expect(known.json().error.code).toBe("not_entitled");
    expect(unknown.json().error.message.replace("job 8", "job 7")).toBe(known.json().error.message);
    expect((await signedGet(app, "/v1/jobs/8", verifier)).statusCode).toBe(404);
    await app.close();
  });
});
