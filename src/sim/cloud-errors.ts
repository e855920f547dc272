// The error answers of the cloud services snatguard reads, as each service writes them: status, headers and
// body in the service's own protocol. Used by the simulator's injected faults and by the fault proxy
// (test/faults/proxy.ts), so a client sees what the real service would send, never another service's shape.
//
// A fault is named by its condition, numbered as HTTP numbers it: 404 not found, 409 conflict, 429
// throttled, 500 internal error, 503 unavailable. Each service answers the condition in its own way, and
// sometimes with another status: EC2 throttles with 503 RequestLimitExceeded, CloudWatch and STS with
// 400 Throttling. A service with no documented answer for a condition has no entry, and
// `serviceError` returns undefined for it. (EC2 and STS answer no client error with 404 or 409.)
//
// Sources, per service:
// - ARM: the ARM RPC error response `{"error":{"code","message"}}` (Azure/azure-resource-manager-rpc
//   common API details, "Error response content"). 404: learn.microsoft.com azure-resource-manager/
//   troubleshooting/error-not-found (code ResourceNotFound; "The Resource '<type>/<name>' under resource
//   group '<rg>' was not found."). 429: request-limits-and-throttling (Retry-After,
//   x-ms-ratelimit-remaining-subscription-reads) and troubleshoot/azure/azure-kubernetes/error-code-
//   toomanyrequestsreceived-subscriptionrequeststhrottled (SubscriptionRequestsThrottled and its message;
//   test/fixtures/wire/azure/arm-throttled.json). 409 and 500: ARM leaves the code to the
//   resource provider, and none documents one for these GETs. The codes `Conflict` and
//   `InternalServerError` here are the HTTP reason phrases, not codes seen in a real answer.
// - Azure Monitor metrics:getBatch: the ErrorResponse `{error: ErrorDetail{code, message}}` of
//   @azure/monitor-query-metrics 1.0.0 (models.d.ts `ErrorResponse`, `ErrorDetail`). The service
//   documents no codes. ResourceNotFound follows ARM's. `TooManyRequests`, `Conflict` and
//   `InternalServerError` are the HTTP reason phrases (not sourced).
// - CloudWatch: AWS JSON 1.0 with aws.protocols#awsQueryCompatible, as @aws-sdk/client-cloudwatch
//   3.1162.0 speaks it (AwsJson1_0Protocol, awsQueryCompatible: true). `__type` is the shape id, and the
//   query code and fault go in `x-amzn-query-error` (smithy-aws-protocol-tests awsJson1_0/
//   query-compatible.smithy). Codes and statuses come from the SDK's error schemas (`awsQueryError`,
//   `httpError`): ResourceNotFound 404 (member `message`), ResourceConflict 409, and
//   InternalServiceFault, whose query code is InternalServiceError, at 500 (member `Message`). Throttling
//   is the 400 `Throttling` of CloudWatch's Common Errors (test/fixtures/wire/aws/cloudwatch-throttled.json).
// - EC2: the ec2Query error `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/>`
//   (smithy-aws-protocol-tests ec2Query/xml-errors.smithy; EC2 API reference errors-overview: client
//   errors are 400-series, server errors 500-series). NatGatewayNotFound is what DescribeNatGateways
//   answers for an unknown id (@aws-sdk/client-ec2 waiter NatGatewayAvailable). RequestLimitExceeded,
//   "Request limit exceeded.", comes with HTTP 503, as real EC2 answers show (e.g. aws-sdk-java "Status
//   Code: 503; Error Code: RequestLimitExceeded"). InternalError is 500 and Unavailable 503 (server error
//   codes).
// - EKS: restJson1, with the code in `x-amzn-ErrorType` and the members in a JSON body (Smithy restJson1
//   error serialization). The exceptions and their statuses come from @aws-sdk/client-eks's error
//   schemas: ResourceNotFoundException 404 (clusterName, addonName, message), ResourceInUseException
//   409, ThrottlingException 429, ServerException 500, ServiceUnavailableException 503. "No cluster found
//   for name: X." is the message the AWS CLI prints for DescribeCluster.
// - STS: awsQuery, `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`
//   (smithy-aws-protocol-tests awsQuery/xml-errors.smithy). Throttling is 400 and InternalFailure 500
//   (AWS common errors).
//
// Messages are not from captured answers unless said above. Clients match on status and code only.

export type CloudService = 'arm' | 'azure-monitor' | 'cloudwatch' | 'ec2' | 'eks' | 'sts';

export const CLOUD_SERVICES: readonly CloudService[] = [
  'arm',
  'azure-monitor',
  'cloudwatch',
  'ec2',
  'eks',
  'sts',
];

export interface ServiceErrorAnswer {
  status: number;
  /** The error code a client reads (SDK error name, RestError code). */
  code: string;
  message: string;
  headers: Record<string, string>;
  body: string;
}

export interface ErrorContext {
  /** The request path: ARM names the resource and its group in a not-found message; EKS the cluster. */
  path?: string;
  /** Retry-After in seconds, where the service sends one (ARM and Azure Monitor throttling). */
  retryAfterSeconds?: number;
}

type Entry = { status: number; code: string; message: (c: ErrorContext) => string };

const REQUEST_ID = '00000000-0000-0000-0000-000000000000';

const armNotFound = (c: ErrorContext): string => {
  const path = c.path ?? '';
  const rg = /\/resourceGroups\/([^/]+)/i.exec(path)?.[1] ?? '';
  const provider = /\/providers\/([^/]+\/[^/]+)\/([^/?]+)/i.exec(path);
  const what = provider ? `${provider[1]}/${provider[2]}` : path;
  return `The Resource '${what}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`;
};

const armThrottled = (c: ErrorContext): string => {
  const sub = /^\/subscriptions\/([^/]+)/i.exec(c.path ?? '')?.[1] ?? '';
  return `Number of 'read' requests for subscription '${sub}' actor 'snatguard' exceeded. Please try again after '${c.retryAfterSeconds ?? 5}' seconds after additional tasks are completed.`;
};

const eksCluster = (c: ErrorContext): string =>
  decodeURIComponent(/^\/clusters\/([^/?]+)/.exec(c.path ?? '')?.[1] ?? '');
const eksAddon = (c: ErrorContext): string | undefined => {
  const a = /^\/clusters\/[^/]+\/addons\/([^/?]+)/.exec(c.path ?? '')?.[1];
  return a === undefined ? undefined : decodeURIComponent(a);
};

const TABLE: Record<CloudService, Partial<Record<number, Entry>>> = {
  arm: {
    404: { status: 404, code: 'ResourceNotFound', message: armNotFound },
    409: {
      status: 409,
      code: 'Conflict',
      message: () => 'The request conflicts with the state of the resource.',
    },
    429: { status: 429, code: 'SubscriptionRequestsThrottled', message: armThrottled },
    500: { status: 500, code: 'InternalServerError', message: () => 'Encountered internal server error.' },
  },
  'azure-monitor': {
    404: {
      status: 404,
      code: 'ResourceNotFound',
      message: (c) => `The Resource '${(c.path ?? '').split('?')[0]}' was not found.`,
    },
    409: {
      status: 409,
      code: 'Conflict',
      message: () => 'The request conflicts with the state of the resource.',
    },
    429: { status: 429, code: 'TooManyRequests', message: () => 'Too many requests.' },
    500: { status: 500, code: 'InternalServerError', message: () => 'Encountered internal server error.' },
  },
  cloudwatch: {
    404: { status: 404, code: 'ResourceNotFound', message: () => 'The named resource does not exist.' },
    409: {
      status: 409,
      code: 'ResourceConflict',
      message: () => 'The resource is in use by another operation.',
    },
    429: { status: 400, code: 'Throttling', message: () => 'Rate exceeded' },
    500: { status: 500, code: 'InternalServiceFault', message: () => 'Internal service error.' },
  },
  ec2: {
    404: {
      status: 400,
      code: 'NatGatewayNotFound',
      message: () => 'The NAT gateway ID does not exist.',
    },
    429: { status: 503, code: 'RequestLimitExceeded', message: () => 'Request limit exceeded.' },
    500: { status: 500, code: 'InternalError', message: () => 'An internal error has occurred.' },
    503: {
      status: 503,
      code: 'Unavailable',
      message: () => 'The server is overloaded and cannot handle the request.',
    },
  },
  eks: {
    404: {
      status: 404,
      code: 'ResourceNotFoundException',
      message: (c) => {
        const addon = eksAddon(c);
        return addon === undefined
          ? `No cluster found for name: ${eksCluster(c)}.`
          : `No addon: ${addon} found in cluster: ${eksCluster(c)}`;
      },
    },
    409: { status: 409, code: 'ResourceInUseException', message: () => 'The resource is in use.' },
    429: { status: 429, code: 'ThrottlingException', message: () => 'Rate exceeded' },
    500: { status: 500, code: 'ServerException', message: () => 'Internal server error.' },
    503: { status: 503, code: 'ServiceUnavailableException', message: () => 'Service unavailable.' },
  },
  sts: {
    429: { status: 400, code: 'Throttling', message: () => 'Rate exceeded' },
    500: { status: 500, code: 'InternalFailure', message: () => 'An internal error has occurred.' },
  },
};

/**
 * CloudWatch's query code and message member for an error shape (the SDK's error schemas: `awsQueryError`
 * and members). The SDK names the error by its shape; Throttling is not a modelled shape.
 */
const CLOUDWATCH_QUERY: Record<string, { query: string; member: 'message' | 'Message' }> = {
  ResourceNotFound: { query: 'ResourceNotFound', member: 'message' },
  ResourceConflict: { query: 'ResourceConflict', member: 'message' },
  Throttling: { query: 'Throttling', member: 'message' },
  InternalServiceFault: { query: 'InternalServiceError', member: 'Message' },
};

const xmlEscape = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * What `service` answers for the condition `condition` (404, 409, 429, 500, 503), or undefined when
 * the service documents no such answer.
 */
export function serviceError(
  service: CloudService,
  condition: number,
  context: ErrorContext = {},
): ServiceErrorAnswer | undefined {
  const entry = TABLE[service][condition];
  if (!entry) return undefined;
  const { status, code } = entry;
  const message = entry.message(context);
  const retryAfter: Record<string, string> =
    context.retryAfterSeconds !== undefined && condition === 429
      ? { 'retry-after': String(context.retryAfterSeconds) }
      : {};
  switch (service) {
    case 'arm':
    case 'azure-monitor':
      return {
        status,
        code,
        message,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'x-ms-request-id': REQUEST_ID,
          ...(service === 'arm' && condition === 429
            ? { 'x-ms-ratelimit-remaining-subscription-reads': '0' }
            : {}),
          ...retryAfter,
        },
        body: JSON.stringify({ error: { code, message } }),
      };
    case 'cloudwatch': {
      const q = CLOUDWATCH_QUERY[code] ?? { query: code, member: 'message' as const };
      return {
        status,
        code,
        message,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-requestid': REQUEST_ID,
          'x-amzn-query-error': `${q.query};${status >= 500 ? 'Receiver' : 'Sender'}`,
        },
        body: JSON.stringify({ __type: `com.amazonaws.cloudwatch#${code}`, [q.member]: message }),
      };
    }
    case 'ec2':
      return {
        status,
        code,
        message,
        headers: { 'content-type': 'text/xml;charset=UTF-8' },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${REQUEST_ID}</RequestID></Response>`,
      };
    case 'eks': {
      const cluster = eksCluster(context);
      const addon = eksAddon(context);
      const members =
        code === 'ResourceNotFoundException'
          ? { ...(cluster ? { clusterName: cluster } : {}), ...(addon ? { addonName: addon } : {}) }
          : {};
      return {
        status,
        code,
        message,
        headers: {
          'content-type': 'application/json',
          'x-amzn-requestid': REQUEST_ID,
          'x-amzn-errortype': code,
        },
        body: JSON.stringify({ ...members, message }),
      };
    }
    case 'sts':
      return {
        status,
        code,
        message,
        headers: { 'content-type': 'text/xml' },
        body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${REQUEST_ID}</RequestId></ErrorResponse>`,
      };
  }
}

/** The cloud service a request is for: Azure by path, AWS by the SigV4 credential scope's service. */
export function cloudServiceOf(path: string, awsScope?: string): CloudService | undefined {
  if (awsScope !== undefined) {
    if (awsScope === 'monitoring') return 'cloudwatch';
    if (awsScope === 'ec2' || awsScope === 'eks' || awsScope === 'sts') return awsScope;
    return undefined;
  }
  const lower = decodeURIComponent(path.split('?')[0] ?? '').toLowerCase();
  if (!lower.startsWith('/subscriptions/')) return undefined;
  return lower.includes('/providers/microsoft.insights/metrics') || lower.endsWith('/metrics:getbatch')
    ? 'azure-monitor'
    : 'arm';
}
