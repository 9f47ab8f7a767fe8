import { grpcTarget, parseEndpoint } from '../../lib/endpoint';

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
 * Parses `unix:///abs/path`, a bare absolute path, or `tcp://host:port`
 * (lib/endpoint.ts). Throws an Error whose message says what is wrong (the
 * caller names the setting).
 */
export function parseCriEndpoint(text: string): CriEndpoint {
  const endpoint = parseEndpoint(text);
  return { display: endpoint.display, target: grpcTarget(endpoint) };
}
