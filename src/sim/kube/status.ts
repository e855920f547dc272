// `Status` bodies worded as a real API server words them.
import { SnatguardError } from '../../errors.js';

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message: string; field?: string }[];
  };
  code: number;
}

/** A failed API call: `status` is the HTTP code, `body` the Status the server answers. */
export class ApiError extends SnatguardError {
  constructor(readonly body: StatusBody) {
    super(body.message ?? body.reason ?? 'api error');
  }
  get status(): number {
    return this.body.code;
  }
}

/**
 * A Status as the API server serializes it: empty `reason` and `details.group` are omitted (omitempty),
 * e.g. kube-apiserver v1.20.2 answers `{"name":"db-0","kind":"pods"}` for a core resource and no
 * `reason` at all for "error dialing backend" (StatusReasonUnknown). Source: responses of the real
 * kube-apiserver in ../shared/tools/kube-real, kept in test/fixtures/wire/kube-real/.
 */
export const statusBody = (
  code: number,
  reason: string,
  message: string,
  details?: StatusBody['details'],
): StatusBody => {
  const d = details
    ? Object.fromEntries(Object.entries(details).filter(([k, v]) => !(k === 'group' && v === '')))
    : undefined;
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    ...(reason ? { reason } : {}),
    ...(d ? { details: d } : {}),
    code,
  };
};

/** `pods`, `deployments.apps`, `leases.coordination.k8s.io`: how messages name a resource. */
export const qualified = (resource: string, group: string): string =>
  group ? `${resource}.${group}` : resource;

export const notFound = (resource: string, group: string, name: string): ApiError =>
  new ApiError(
    statusBody(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, {
      name,
      group,
      kind: resource,
    }),
  );

export const alreadyExists = (resource: string, group: string, name: string): ApiError =>
  new ApiError(
    statusBody(409, 'AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, {
      name,
      group,
      kind: resource,
    }),
  );

export const conflict = (resource: string, group: string, name: string): ApiError =>
  new ApiError(
    statusBody(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name, group, kind: resource },
    ),
  );

export const invalid = (
  kind: string,
  group: string,
  name: string,
  causes: { field: string; message: string }[],
): ApiError =>
  new ApiError(
    statusBody(
      422,
      'Invalid',
      `${kind}${group ? `.${group}` : ''} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
      {
        name,
        group,
        kind,
        causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })),
      },
    ),
  );

export const badRequest = (message: string): ApiError => new ApiError(statusBody(400, 'BadRequest', message));

export const methodNotAllowed = (): ApiError =>
  new ApiError(
    statusBody(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
  );

export const unsupportedMediaType = (type: string): ApiError =>
  new ApiError(
    statusBody(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${type})`,
    ),
  );

export const unauthorized = (): ApiError => new ApiError(statusBody(401, 'Unauthorized', 'Unauthorized'));
