// Turning @kubernetes/client-node failures into ClusterError with the HTTP status kept.
import { ClusterError, messageOf } from '../errors.js';

/** The HTTP status of a failed API call (client-node 1.x throws ApiException with `code`), if any. */
export function httpStatusOf(e: unknown): number | undefined {
  if (e instanceof ClusterError) return e.status;
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const code = (e as { code: unknown }).code;
    if (typeof code === 'number' && code >= 100 && code < 600) return code;
  }
  return undefined;
}

/** The `message` of a Kubernetes Status body, when the error carries one. */
function statusMessageOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || !('body' in e)) return undefined;
  const raw: unknown = (e as { body: unknown }).body;
  let body: unknown = raw;
  if (typeof raw === 'string') {
    try {
      body = JSON.parse(raw);
    } catch {
      return raw.slice(0, 300) || undefined;
    }
  }
  if (typeof body === 'object' && body !== null && 'message' in body) {
    const m = (body as { message: unknown }).message;
    if (typeof m === 'string') return m;
  }
  return undefined;
}

/** `what` says which call failed (`get apps/v1 Deployment shop/orders-api`). */
export function clusterError(what: string, e: unknown): ClusterError {
  if (e instanceof ClusterError) return e;
  const status = httpStatusOf(e);
  const detail = statusMessageOf(e) ?? messageOf(e);
  const message = status === undefined ? `${what}: ${detail}` : `${what}: HTTP ${status}: ${detail}`;
  return new ClusterError(message, status, { cause: e });
}

export const isNotFound = (e: unknown): boolean => httpStatusOf(e) === 404;
export const isConflict = (e: unknown): boolean => httpStatusOf(e) === 409;
