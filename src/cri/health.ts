import * as grpc from '@grpc/grpc-js';
import type { HealthCheckRequest__Output } from '../generated/grpc/health/v1/HealthCheckRequest';
import type { HealthCheckResponse } from '../generated/grpc/health/v1/HealthCheckResponse';
import type { HealthHandlers } from '../generated/grpc/health/v1/Health';
import { healthProto } from './proto';

/** The statuses this server reports. */
export type ServingStatus = 'SERVING' | 'NOT_SERVING';

/**
 * grpc.health.v1.Health: Check answers a service's status (NOT_FOUND for a
 * service it does not know); Watch streams every change. `shutdown()` reports
 * NOT_SERVING for all and ends the Watch streams, so a graceful server
 * shutdown is not held open by them.
 */
export class HealthService {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watchers = new Set<{ service: string; call: grpc.ServerWritableStream<HealthCheckRequest__Output, HealthCheckResponse> }>();

  /** `''` is the whole server. */
  constructor(services: string[]) {
    for (const service of ['', ...services]) this.#statuses.set(service, 'SERVING');
  }

  setStatus(service: string, status: ServingStatus): void {
    this.#statuses.set(service, status);
    for (const watcher of this.#watchers) if (watcher.service === service) watcher.call.write({ status });
  }

  shutdown(): void {
    for (const service of this.#statuses.keys()) this.setStatus(service, 'NOT_SERVING');
    for (const watcher of this.#watchers) watcher.call.end();
    this.#watchers.clear();
  }

  addToServer(server: grpc.Server): void {
    const handlers: HealthHandlers = {
      Check: (call, callback) => {
        const status = this.#statuses.get(call.request.service);
        if (!status) callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
        else callback(null, { status });
      },
      Watch: (call) => {
        const watcher = { service: call.request.service, call };
        this.#watchers.add(watcher);
        call.on('cancelled', () => this.#watchers.delete(watcher));
        call.write({ status: this.#statuses.get(call.request.service) ?? 'SERVICE_UNKNOWN' });
      },
    };
    server.addService(healthProto().grpc.health.v1.Health.service, handlers);
  }
}
