import type { Request } from 'express';

/**
 * The facade's own base URL as clients reach it: the configured `url` when
 * set (behind a load balancer, always set it), otherwise scheme and Host of
 * the request.
 */
export function facadeUrl(req: Request, configured: string | undefined): string {
  if (configured) return configured.replace(/\/+$/, '');
  return `${req.protocol}://${req.host}`;
}
