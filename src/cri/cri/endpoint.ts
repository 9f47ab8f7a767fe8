/**
 * A runtime's CRI endpoint as kubelet and crictl write it, and the grpc-js
 * target it becomes.
 */
export interface CriEndpoint {
  /** As configured, for messages: `unix:///run/containerd/containerd.sock`. */
  display: string;
  /** What grpc-js dials: `unix:///run/…` or `host:port`. */
  target: string;
}

/**
 * Parses `unix:///abs/path`, a bare absolute path, or `tcp://host:port`.
 * Throws an Error whose message says what is wrong (the caller names the setting).
 */
export function parseCriEndpoint(text: string): CriEndpoint {
  const value = text.trim();
  if (value.startsWith('unix://')) {
    const path = value.slice('unix://'.length);
    if (!path.startsWith('/')) throw new Error(`must be unix:///absolute/path, got ${JSON.stringify(text)}`);
    return { display: value, target: `unix://${path}` };
  }
  if (value.startsWith('/')) return { display: `unix://${value}`, target: `unix://${value}` };
  if (value.startsWith('tcp://')) {
    const hostPort = value.slice('tcp://'.length);
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(hostPort)) {
      throw new Error(`must be tcp://host:port, got ${JSON.stringify(text)}`);
    }
    return { display: value, target: hostPort };
  }
  throw new Error(`must be unix:///path/to/socket or tcp://host:port, got ${JSON.stringify(text)}`);
}
