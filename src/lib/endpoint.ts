/** A Unix socket or a TCP address, as `--docker-host`, `runtimeEndpoint` and `-i` name it. */
export type Endpoint =
  | { kind: 'unix'; /** Absolute socket path. */ path: string; /** `unix:///path`, for messages. */ display: string }
  | { kind: 'tcp'; /** Host name, IPv4 address, or IPv6 address without brackets. */ host: string; port: number; /** `tcp://host:port`, for messages. */ display: string };

/** The text is not an endpoint; the message says which forms are. */
export class EndpointError extends Error {
  constructor(text: string) {
    super(`must be unix:///path/to/socket or tcp://host:port, got ${JSON.stringify(text)}`);
    this.name = 'EndpointError';
  }
}

const TCP = /^(?:tcp:\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})\/?$/;

/**
 * The one parser of `unix://` / `tcp://` endpoints (Docker Engine, a CRI
 * runtime, the client's `-i`). Accepted, after trimming white space:
 * `unix:///absolute/path`, `unix:/absolute/path` (gRPC's and kubelet's
 * spelling), a bare `/absolute/path`, and `tcp://host:port` or a bare
 * `host:port` (a DNS name, an IPv4 address or a bracketed IPv6 address; port
 * 1–65535; one trailing `/` tolerated, as Docker's `DOCKER_HOST` allows).
 * Anything else (a relative socket path, another scheme, no port) throws
 * EndpointError.
 */
export function parseEndpoint(text: string): Endpoint {
  const value = text.trim();
  if (value.startsWith('unix:') || value.startsWith('/')) {
    const path = value.startsWith('/') ? value : value.startsWith('unix://') ? value.slice('unix://'.length) : value.slice('unix:'.length);
    if (!path.startsWith('/') || path.includes('\0')) throw new EndpointError(text);
    return { kind: 'unix', path, display: `unix://${path}` };
  }
  const tcp = TCP.exec(value);
  const port = Number(tcp?.[2]);
  if (!tcp || port < 1 || port > 65535) throw new EndpointError(text);
  const host = tcp[1].replace(/^\[|\]$/g, '');
  return { kind: 'tcp', host, port, display: `tcp://${tcp[1]}:${port}` };
}

/** True when `parseEndpoint` accepts the text. */
export function isEndpoint(text: string): boolean {
  try {
    parseEndpoint(text);
    return true;
  } catch {
    return false;
  }
}

/** What grpc-js dials for the endpoint: `unix:///path` or `host:port` (IPv6 in brackets). */
export function grpcTarget(endpoint: Endpoint): string {
  if (endpoint.kind === 'unix') return `unix://${endpoint.path}`;
  return `${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
}
