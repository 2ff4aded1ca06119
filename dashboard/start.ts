import { DashboardError } from "./errors.js";
import { parseDashboardConfig, type DashboardConfigInput } from "./config.js";
import { createDashboardServer } from "./server.js";
import { DashboardService } from "./service.js";

export type Dashboard = { url: string; service: DashboardService; close(): Promise<void> };

export type StartDashboardOptions = { log?: (line: string) => void };

/**
 * Serve the page at once and keep its snapshot current. The chain is checked by the service's
 * first refresh, not here: an unreachable RPC, a wrong chain or a missing deployment file is
 * shown in the page and the log, and retried, so the dashboard can be started before the chain.
 */
export async function startDashboard(input: DashboardConfigInput, options: StartDashboardOptions = {}): Promise<Dashboard> {
  const config = parseDashboardConfig(input);
  const service = new DashboardService({ config, ...(options.log ? { log: options.log } : {}) });
  const app = createDashboardServer(service);
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (cause) {
    throw new DashboardError(`Cannot listen on ${config.host}:${config.port}.`, { details: "Is the port taken? Pick another with --port (0: any free port).", cause });
  }
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.port;
  service.start();
  return {
    url: `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`,
    service,
    async close() {
      await service.stop();
      await app.close();
    },
  };
}
