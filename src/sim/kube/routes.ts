// The Kubernetes API: discovery, CRUD + patch of the served resources, Tables for kubectl, exec over
// WebSocket, bearer-token authentication and RBAC from infra/kubernetes/rbac.yaml.
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SimEarly, SimRoutes } from '../types.js';
import type { KubeObject, World } from '../world.js';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo } from './discovery.js';
import { createExecServer } from './exec.js';
import { applyPatch } from './patch.js';
import { forbidden, type RbacPolicy, type RequestAttributes, type User } from './rbac.js';
import { findResource, GROUPS, groupVersion, type ResourceType } from './resources.js';
import { fieldSelector, labelMatcher } from './select.js';
import { ApiError, badRequest, methodNotAllowed, notFound, statusBody, unauthorized } from './status.js';
import { toTable, wantsTable } from './table.js';

export interface KubeApiOptions {
  /** Bearer token → user. */
  tokens: Map<string, User>;
  policy: RbacPolicy;
}

export interface KubeApi {
  routes: SimRoutes;
  /** Handles a WebSocket upgrade; returns the HTTP status answered, or undefined when not a kube path. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): number | undefined;
  close(): void;
}

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

const KUBE_PATH = /^\/(api|apis|version|openapi|healthz|livez|readyz)(\/|$)/;

function sendJson(res: ServerResponse, status: number, body: unknown): true {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-cache, private',
    'x-kubernetes-pf-flowschema-uid': 'sim',
  });
  res.end(text);
  return true;
}

/** The refused upgrade as kube-apiserver writes it (status line, JSON Status, no upgrade headers). */
function writeRawStatus(socket: Duplex, err: ApiError): void {
  const text = JSON.stringify(err.body);
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\ncache-control: no-cache, private\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

interface Target {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** `/api/v1/...` or `/apis/G/V/...` → the resource it names, or null for discovery paths. */
function parseTarget(path: string): { group: string; version: string; rest: string[] } | null {
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  if (parts[0] === 'api' && parts[1] === 'v1') return { group: '', version: 'v1', rest: parts.slice(2) };
  if (parts[0] === 'apis' && parts.length >= 3)
    return { group: parts[1]!, version: parts[2]!, rest: parts.slice(3) };
  return null;
}

function resolve(group: string, version: string, rest: string[]): Target | undefined {
  const find = (r: string | undefined) => (r ? findResource(group, version, r) : undefined);
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const type = find(rest[2]);
    if (!type?.namespaced) return undefined;
    return { type, namespace: rest[1], name: rest[3], subresource: rest[4] };
  }
  const type = find(rest[0]);
  if (!type || rest.length > 3) return undefined;
  return { type, name: rest[1], subresource: rest[2] };
}

function verbOf(method: string, t: Target, watch: boolean): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return t.name ? 'get' : watch ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return t.name ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

/**
 * SimEarly of the Kubernetes API: discovery, reads of nodes and namespaces, and leases and config maps
 * (seeding makes none of either) are answered from the namespaces and nodes alone; everything else (pods,
 * workloads, events, writes to nodes or namespaces) waits for the workloads. Exec is an upgrade, which
 * always waits.
 */
export const kubeEarly: SimEarly = (req, url) => {
  if (!KUBE_PATH.test(url.pathname)) return true;
  let gv: ReturnType<typeof parseTarget>;
  try {
    gv = parseTarget(url.pathname.replace(/\/+$/, '') || '/');
  } catch {
    return false;
  }
  // /version, /api, /apis, /apis/G, /api/v1, /apis/G/V, health checks: discovery, or a 404.
  if (gv === null || gv.rest.length === 0) return true;
  const type = resolve(gv.group, gv.version, gv.rest)?.type;
  if (type === undefined) return true;
  if (type.resource === 'leases' || type.resource === 'configmaps') return true;
  const read = req.method === 'GET' || req.method === 'HEAD';
  return read && (type.resource === 'nodes' || type.resource === 'namespaces');
};

/** List items carry no kind/apiVersion on a real server. */
/**
 * A list page. Like kube-apiserver v1.20.2, a page with more to come carries `continue` and, only when
 * no label or field selector filtered it, `remainingItemCount`
 * (`GET /api/v1/nodes?limit=1` → `{"resourceVersion":"341","continue":"…","remainingItemCount":1}`).
 */
function listOf(
  t: ResourceType,
  items: readonly KubeObject[],
  resourceVersion: string,
  cont?: string,
  remaining?: number,
) {
  return {
    kind: `${t.kind}List`,
    apiVersion: groupVersion(t),
    metadata: {
      resourceVersion,
      ...(cont ? { continue: cont } : {}),
      ...(cont && remaining !== undefined ? { remainingItemCount: remaining } : {}),
    },
    items: items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest),
  };
}

export function kubeApi(world: World, opts: KubeApiOptions): KubeApi {
  const exec = createExecServer(world);

  const authenticate = (req: IncomingMessage): User => {
    const m = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''));
    const user = m?.[1] ? opts.tokens.get(m[1].trim()) : undefined;
    if (!user) throw unauthorized();
    return user;
  };

  const authorize = (user: User, a: RequestAttributes): void => {
    if (!opts.policy.allows(user, a)) throw forbidden(user, a);
  };

  const faulted = (res: ServerResponse): boolean => {
    if (world.faults.down.has('kube')) {
      res.socket?.destroy();
      return true;
    }
    const f = world.faults.failNext.kube;
    if (f && f.count > 0) {
      f.count -= 1;
      const reason =
        f.status === 429 ? 'TooManyRequests' : f.status === 503 ? 'ServiceUnavailable' : 'InternalError';
      const text = JSON.stringify(statusBody(f.status, reason, `simulated fault: ${f.status}`));
      res.writeHead(f.status, {
        'content-type': 'application/json',
        ...(f.retryAfterSeconds !== undefined ? { 'retry-after': String(f.retryAfterSeconds) } : {}),
      });
      res.end(text);
      return true;
    }
    return false;
  };

  const routes: SimRoutes = (req, res, url, body) => {
    if (!KUBE_PATH.test(url.pathname)) return false;
    if (faulted(res)) return true;
    try {
      handle(req, res, url, body);
    } catch (e) {
      if (e instanceof ApiError) sendJson(res, e.status, e.body);
      else
        sendJson(
          res,
          500,
          statusBody(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`),
        );
    }
    return true;
  };

  function handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): true {
    const user = authenticate(req);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const host = req.headers.host ?? '127.0.0.1';
    // Non-resource URLs: every authenticated user may read them (system:discovery, system:public-info-viewer).
    if (method === 'GET' || method === 'HEAD') {
      if (path === '/version') return sendJson(res, 200, versionInfo(world.serverVersion));
      if (path === '/api') return sendJson(res, 200, apiVersions(host));
      if (path === '/apis') return sendJson(res, 200, apiGroupList());
      if (/^\/(healthz|livez|readyz)$/.test(path)) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
        return true;
      }
      const groupOnly = /^\/apis\/([^/]+)$/.exec(path);
      if (groupOnly?.[1] && GROUPS.includes(groupOnly[1])) return sendJson(res, 200, apiGroup(groupOnly[1]));
      const gv = parseTarget(path);
      if (gv && gv.rest.length === 0) {
        const list = apiResourceList(gv.group, gv.version);
        if (list) return sendJson(res, 200, list);
      }
    }
    const gv = parseTarget(path);
    const target = gv ? resolve(gv.group, gv.version, gv.rest) : undefined;
    if (!target)
      throw new ApiError(statusBody(404, 'NotFound', 'the server could not find the requested resource'));
    const { type } = target;
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb = verbOf(method, target, watch);
    const attrs: RequestAttributes = {
      verb,
      group: type.group,
      resource: type.resource,
      ...(target.subresource ? { subresource: target.subresource } : {}),
      ...(target.namespace ? { namespace: target.namespace } : {}),
      ...(target.name ? { name: target.name } : {}),
    };
    world.count(`kube ${target.subresource ?? verb} ${type.resource}`);
    authorize(user, attrs);

    if (target.subresource === 'exec') {
      // Reached only without an Upgrade header (upgrades go through `upgrade`).
      throw badRequest('Upgrade request required');
    }
    if (target.subresource)
      throw notFound(`${type.resource}/${target.subresource}`, type.group, target.name ?? '');
    if (watch) throw methodNotAllowed();

    const now = Date.now();
    const table = wantsTable(req.headers.accept);
    const includeObject = url.searchParams.get('includeObject');
    switch (verb) {
      case 'list': {
        const ls = url.searchParams.get('labelSelector');
        const fs = url.searchParams.get('fieldSelector');
        // spec.nodeName=X reads the node index (as kube-apiserver's pod watch cache does); the whole
        // selector is still applied below.
        const onNode = fs ? /(?:^|,)\s*spec\.nodeName\s*==?\s*([^,\s]*)/.exec(fs)?.[1] : undefined;
        const byLabels = ls ? labelMatcher(ls) : undefined;
        const byFields = fs ? fieldSelector(fs) : undefined;
        // The stored objects, read only while this response is written (no copies; a page copies nothing
        // of the objects it leaves out). The world answers the label selector of an object it has not
        // built without building it.
        let items = world.select(type.resource, {
          namespace: target.namespace,
          nodeName: onNode,
          ...(byLabels ? { labels: byLabels } : {}),
          ...(byFields ? { filter: byFields } : {}),
        });
        const limit = Number(url.searchParams.get('limit') ?? 0);
        const start = Number(Buffer.from(url.searchParams.get('continue') ?? '', 'base64').toString() || 0);
        let cont: string | undefined;
        let remaining: number | undefined;
        if (limit > 0) {
          if (start + limit < items.length) {
            cont = Buffer.from(String(start + limit)).toString('base64');
            if (!ls && !fs) remaining = items.length - start - limit;
          }
          items = items.slice(start, start + limit);
        }
        if (table) {
          const t = toTable(type.resource, items, world.resourceVersion, includeObject, now) as {
            metadata: object;
          };
          if (cont) t.metadata = { ...t.metadata, continue: cont };
          return sendJson(res, 200, t);
        }
        return sendJson(res, 200, listOf(type, items, world.resourceVersion, cont, remaining));
      }
      case 'get': {
        const o = world.get(type.resource, target.namespace, target.name!);
        if (table)
          return sendJson(
            res,
            200,
            toTable(type.resource, [o], o.metadata.resourceVersion, includeObject, now),
          );
        return sendJson(res, 200, o);
      }
      case 'create': {
        const obj = parseBody(body);
        checkDecodable(type, obj, body.toString('utf8'));
        if (type.namespaced && obj.metadata?.namespace && obj.metadata.namespace !== target.namespace)
          throw badRequest(
            'the namespace of the provided object does not match the namespace sent on the request',
          );
        if (url.searchParams.get('dryRun') === 'All') return sendJson(res, 201, obj);
        return sendJson(res, 201, world.create(type.resource, target.namespace, obj));
      }
      case 'update': {
        const obj = parseBody(body);
        checkDecodable(type, obj, body.toString('utf8'));
        return sendJson(res, 200, world.update(type.resource, target.namespace, target.name!, obj));
      }
      case 'patch': {
        const current = world.get(type.resource, target.namespace, target.name!);
        const patched = applyPatch(current, String(req.headers['content-type'] ?? ''), body.toString('utf8'));
        if (url.searchParams.get('dryRun') === 'All') return sendJson(res, 200, patched);
        return sendJson(res, 200, world.update(type.resource, target.namespace, target.name!, patched));
      }
      case 'delete': {
        const o = world.delete(type.resource, target.namespace, target.name!);
        return sendJson(res, 200, o);
      }
      default:
        throw methodNotAllowed();
    }
  }

  /**
   * A Lease's times are metav1.MicroTime: they decode only as RFC 3339 with exactly six fraction digits.
   * kube-apiserver v1.20.2 refuses anything else with a 400 from its JSON decoder
   * (test/fixtures/wire/kube-real/lease-create-millisecond-time.json).
   */
  const checkDecodable = (type: ResourceType, obj: KubeObject, raw: string): void => {
    if (type.resource !== 'leases') return;
    for (const [field, goName] of [
      ['acquireTime', 'AcquireTime'],
      ['renewTime', 'RenewTime'],
    ] as const) {
      const v: unknown = obj.spec?.[field];
      if (v === undefined || v === null || (typeof v === 'string' && MICRO_TIME.test(v))) continue;
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      const fraction = /\.\d*[^\d]*$/.exec(text)?.[0] ?? text;
      // jsoniter's context: 10 and 50 bytes either side of where decoding stopped (after the value).
      const quoted = JSON.stringify(v);
      const stop = raw.indexOf(quoted) < 0 ? raw.length : raw.indexOf(quoted) + quoted.length;
      const around = (n: number): string => raw.slice(Math.max(0, stop - n), stop + n);
      throw badRequest(
        `Lease in version "v1" cannot be handled as a Lease: v1.Lease.Spec: v1.LeaseSpec.${goName}: unmarshalerDecoder: ` +
          `parsing time ${JSON.stringify(text)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse ${JSON.stringify(fraction)} as ".000000", ` +
          `error found in #10 byte of ...|${around(10)}|..., bigger context ...|${around(50)}|...`,
      );
    }
  };

  const parseBody = (body: Buffer): KubeObject => {
    try {
      const o = JSON.parse(body.toString('utf8'));
      if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error('not an object');
      return { ...o, metadata: o.metadata ?? {} };
    } catch (cause) {
      throw badRequest(`the body of the request could not be decoded: ${(cause as Error).message}`);
    }
  };

  const upgrade: KubeApi['upgrade'] = (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'https://sim');
    if (!KUBE_PATH.test(url.pathname)) return undefined;
    try {
      if (world.faults.down.has('kube')) {
        socket.destroy();
        return 0;
      }
      const user = authenticate(req);
      const gv = parseTarget(url.pathname);
      const target = gv ? resolve(gv.group, gv.version, gv.rest) : undefined;
      if (
        target?.type.resource !== 'pods' ||
        target.subresource !== 'exec' ||
        !target.name ||
        !target.namespace
      )
        throw new ApiError(statusBody(404, 'NotFound', 'the server could not find the requested resource'));
      const attrs: RequestAttributes = {
        verb: 'get',
        group: '',
        resource: 'pods',
        subresource: 'exec',
        namespace: target.namespace,
        name: target.name,
      };
      world.count('kube exec pods');
      authorize(user, attrs);
      // From 1.35 the API server also checks `create` for a WebSocket upgrade (KEP-4006).
      if (Number(world.serverVersion.minor) >= 35) authorize(user, { ...attrs, verb: 'create' });
      // In the order kube-apiserver checks them (pkg/registry/core/pod/strategy.go ExecLocation), worded
      // as v1.20.2 answers (test/fixtures/wire/kube-real/exec-*.json).
      const podObject = world.get('pods', target.namespace, target.name);
      const pod = world.podRuntime(target.namespace, target.name);
      if (!pod) throw notFound('pods', '', target.name);
      const names = ((podObject.spec?.containers as { name: string }[] | undefined) ?? []).map((c) => c.name);
      const container = url.searchParams.get('container') ?? '';
      if (container === '' && names.length > 1)
        throw badRequest(
          `a container name must be specified for pod ${target.name}, choose one of: [${names.join(' ')}]`,
        );
      if (container !== '' && !names.includes(container))
        throw badRequest(`container ${container} is not valid for pod ${target.name}`);
      if (!podObject.spec?.nodeName) throw badRequest(`pod ${target.name} does not have a host assigned`);
      const command = url.searchParams.getAll('command');
      if (command.length === 0) throw badRequest('you must specify at least 1 command');
      if (pod.exec === 'error') {
        // The kubelet does not answer: the proxy's dial error, code 500 and no reason (StatusReasonUnknown).
        const ip = world.snapshot.nodes.find((n) => n.name === pod.node)?.internalIP ?? '10.0.0.1';
        throw new ApiError(
          statusBody(500, '', `error dialing backend: dial tcp ${ip}:10250: connect: connection refused`),
        );
      }
      if (!exec.speaks(req))
        throw badRequest(
          'unable to upgrade: no supported subprotocol (v5.channel.k8s.io, v4.channel.k8s.io)',
        );
      exec.upgrade(req, socket, head, pod, command);
      return 101;
    } catch (e) {
      const err =
        e instanceof ApiError ? e : new ApiError(statusBody(500, 'InternalError', (e as Error).message));
      writeRawStatus(socket, err);
      return err.status;
    }
  };

  return { routes, upgrade, close: () => exec.close() };
}
