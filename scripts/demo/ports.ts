import { createServer } from "node:net";

const tryPort = (port: number): Promise<number | undefined> =>
  new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(undefined));
    srv.listen(port, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : undefined));
    });
  });

/** `preferred` if free (so --keep-running gives the usual 8545), else any free port. */
export async function freePortNear(preferred: number): Promise<number> {
  return (await tryPort(preferred)) ?? (await tryPort(0))!;
}
