import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '@dagproc/shared/config/env';
import { PROMETHEUS_CONTENT_TYPE } from '@dagproc/shared/metrics';
import type { ProcessorObserver } from './observer.ts';

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The processor's local endpoint for liveness probes and Prometheus (DAGPROC_PROCESSOR_HEALTH_PORT):
 * `GET /health` answers 200 while the loop turns and the API took a heartbeat within
 * DAGPROC_HEALTH_CHECK_THRESHOLD, else 503 with the reason; `GET /metrics` the metrics. It
 * binds to loopback by default: it needs no token, so it should not face a network.
 */
export function startHealthServer(observer: ProcessorObserver, host: string, port: number): Promise<HealthServer> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end(JSON.stringify({ detail: 'only GET' }));
      return;
    }
    if (path === '/health') {
      const health = observer.health();
      const body = health.ok ? { status: 'healthy', ...health } : { status: 'unhealthy', ...health };
      res.writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(observer.metrics.registry.expose());
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: `no route for ${req.method} ${path}` }));
  });
  return listen(server, host, port);
}

function listen(server: Server, host: string, port: number): Promise<HealthServer> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new ConfigError(`DAGPROC_PROCESSOR_HEALTH_PORT: ${host}:${port} is already in use`));
      else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
        reject(new ConfigError(`DAGPROC_PROCESSOR_HEALTH_HOST: ${host} is not an address of this machine`));
      } else if (error.code === 'EACCES') reject(new ConfigError(`DAGPROC_PROCESSOR_HEALTH_PORT: not allowed to listen on ${port}`));
      else reject(error);
    });
    server.listen(port, host, () => {
      const { port: bound } = server.address() as AddressInfo;
      const shown = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${shown}:${bound}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
