// The config contract (shared/DESIGN.md "Config") as one zod schema: every key, its default and its meaning.
// Objects are strict (a typo is an error, not a silently ignored key). The README reference is generated
// from this schema through describeConfig(), so each key carries its description here.
import * as z from 'zod';
import { parseSelector, SelectorSyntaxError } from '../policy/selector.js';
import { cidrProblem } from './cidr.js';

/** Schemas whose values are secrets: they may be given as `file:/path` or `env:NAME` and are never echoed. */
export const secretSchemas = new WeakSet<z.ZodType>();

function secret<T extends z.ZodType>(schema: T): T {
  secretSchemas.add(schema);
  return schema;
}

const isHttpUrl = (v: string): boolean => {
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
};

const url = (description: string) =>
  secret(
    z
      .string()
      .refine((v) => v === '' || isHttpUrl(v), {
        message: 'must be an http(s) URL (or empty to turn it off)',
      })
      .default('')
      .describe(description),
  );

const selector = (fallback: string, description: string) =>
  z
    .string()
    .superRefine((v, ctx) => {
      try {
        parseSelector(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof SelectorSyntaxError ? e.message : String(e) });
      }
    })
    .default(fallback)
    .describe(description);

const cidrList = (description: string) =>
  z
    .array(
      z.string().superRefine((v, ctx) => {
        const problem = cidrProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    )
    .default([])
    .describe(description);

const ratio = (fallback: number, description: string) =>
  z.number().gt(0).max(1).default(fallback).describe(description);

const optionalString = (description: string) => z.string().optional().describe(description);

export const destinationRuleSchema = z
  .strictObject({
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .describe('Destination port the rule watches, e.g. 27017 (MongoDB).'),
    maxSocketsPerPod: z
      .number()
      .int()
      .min(0)
      .describe('A pod holding more than this many SNAT-consuming sockets to that port is an offender.'),
  })
  .describe('"more than N sockets per pod to port P" makes an offender regardless of share.');

export const configSchema = z
  .strictObject({
    mode: z
      .enum(['dry-run', 'restart'])
      .default('dry-run')
      .describe('dry-run reports what it would do; restart patches workloads (rollout restart).'),
    provider: z
      .enum(['azure', 'aws', 'none'])
      .default('none')
      .describe(
        'Where node pressure comes from: azure | aws | none (snapshot in replay, inspect.nodeSelector in scan).',
      ),
    cluster: z
      .strictObject({
        name: z
          .string()
          .default('')
          .describe(
            'Name reported as RunReport.cluster; empty = derived from the kube context or cloud cluster name.',
          ),
        connection: z
          .enum(['kubeconfig', 'in-cluster', 'aks', 'eks'])
          .default('kubeconfig')
          .describe(
            'How to reach the API server: kubeconfig | in-cluster (service account) | aks (Entra) | eks (IAM).',
          ),
        kubeconfig: z
          .string()
          .default('')
          .describe('Kubeconfig file; empty = $KUBECONFIG or ~/.kube/config.'),
        context: z.string().default('').describe('Kubeconfig context; empty = the current context.'),
        requestTimeoutSeconds: z
          .number()
          .gt(0)
          .default(20)
          .describe(
            'Each Kubernetes API call (node and pod lists, probe pod lists, Lease, workload reads, restart patch, state) gives up after this long, and at the run deadline if sooner; exec has exec.timeoutSeconds.',
          ),
      })
      .prefault({})
      .describe('Which cluster to talk to.'),
    namespace: z
      .string()
      .min(1)
      .default('snatguard')
      .describe("snatguard's own namespace: holds the Lease lock and the state ConfigMap."),
    window: z
      .strictObject({
        minutes: z.number().int().min(1).default(5).describe('How far back metrics are read.'),
      })
      .prefault({}),
    thresholds: z
      .strictObject({
        snatUsedRatio: ratio(
          0.8,
          'A node is hot when used/allocated SNAT ports >= this, or any failed SNAT connection, or its ENA conntrack allowance was exceeded (AWS).',
        ),
        conntrackUsedRatio: ratio(
          0.9,
          'A node conntrack finding when nf_conntrack_count/nf_conntrack_max >= this.',
        ),
      })
      .prefault({}),
    offender: z
      .strictObject({
        minSnatSockets: z
          .number()
          .int()
          .min(0)
          .default(100)
          .describe(
            'Per workload per hot node: an offender holds at least this many SNAT-consuming sockets ...',
          ),
        minShare: z
          .number()
          .min(0)
          .max(1)
          .default(0.25)
          .describe("... and at least this share of the node's SNAT-consuming sockets."),
        destinationRules: z
          .array(destinationRuleSchema)
          .default([{ port: 27017, maxSocketsPerPod: 10 }])
          .describe(
            'Or it exceeds a rule like "more than 10 to MongoDB": [{ port, maxSocketsPerPod }]. Env: JSON.',
          ),
      })
      .prefault({})
      .describe("Per workload per hot node, over its pods' SNAT-consuming sockets."),
    rails: z
      .strictObject({
        maxRestartsPerRun: z.number().int().min(0).default(1).describe('At most this many restarts per run.'),
        cooldownMinutes: z
          .number()
          .min(0)
          .default(60)
          .describe(
            'A workload restarted less than this long ago (annotation snatguard.io/restarted-at) is skipped.',
          ),
        allowSingleReplica: z
          .boolean()
          .default(false)
          .describe('Allow restarting workloads with one replica (a restart then means a short outage).'),
        allowRecreate: z
          .boolean()
          .default(false)
          .describe(
            'Allow restarting a multi-replica Deployment with strategy Recreate (every pod goes down at once; RECREATE_STRATEGY).',
          ),
        namespaces: z
          .strictObject({
            include: z
              .array(z.string().min(1))
              .default([])
              .describe('Namespaces that may be restarted; empty = all.'),
            exclude: z
              .array(z.string().min(1))
              .default(['kube-system'])
              .describe('Namespaces never restarted.'),
          })
          .prefault({}),
        selector: selector(
          '',
          'Label selector workloads must match to be restarted, e.g. "db=mongo"; empty = all.',
        ),
        preemptive: z
          .boolean()
          .default(false)
          .describe(
            'A forecast (SNAT_EXHAUSTION_FORECAST) may restart, through the same rails, only when true.',
          ),
        settleMinutes: z
          .number()
          .min(0)
          .default(10)
          .describe(
            'After a run restarted a workload on a node, later runs restart nothing else there for this long (SETTLING).',
          ),
      })
      .prefault({})
      .describe('Safety rails: every skipped restart carries a reason code.'),
    network: z
      .strictObject({
        clusterCidrs: cidrList('Pod and service CIDRs (also read from the cluster when known): never SNAT.'),
        nonSnatCidrs: cidrList('Destinations reached without SNAT (peered VNets, private endpoints).'),
        snatPortsPerNode: z
          .number()
          .int()
          .min(1)
          .default(1024)
          .describe(
            "provider none: the SNAT port budget a node's busiest destination is held against (thresholds.snatUsedRatio).",
          ),
      })
      .prefault({}),
    exec: z
      .strictObject({
        concurrency: z.number().int().min(1).default(16).describe('Pods read in parallel.'),
        timeoutSeconds: z.number().gt(0).default(10).describe('Per-exec timeout.'),
        maxBytes: z
          .number()
          .int()
          .min(1)
          .default(67108864)
          .describe('Output cap per exec; /proc/net/tcp text is untrusted.'),
      })
      .prefault({}),
    inspect: z
      .strictObject({
        nodeSelector: selector(
          '',
          'provider none: label selector of the nodes to inspect; empty = all nodes.',
        ),
        podSelector: selector('', 'Label selector of the pods to inspect on a hot node; empty = all pods.'),
        nodeProbeFallback: z
          .boolean()
          .default(false)
          .describe(
            'Opt-in: read pods without cat (distroless) on their node, by pod UID, through infra/kubernetes/node-sockets.yaml (hostPID); otherwise they are counted from the conntrack table.',
          ),
        probeSelector: selector(
          'app.kubernetes.io/name=snatguard-node-probe',
          "hostNetwork pods that read a node's conntrack counters: snatguard's node probe (infra/kubernetes/node-probe.yaml).",
        ),
        probeNamespace: z
          .string()
          .default('')
          .describe("Namespace of the probe pods; empty = snatguard's own (namespace)."),
        probeFallbackSelector: selector(
          '',
          'Optional second choice, any namespace, e.g. k8s-app=kube-proxy where kube-proxy has cat (not EKS; AKS: component=kube-proxy); empty = none.',
        ),
      })
      .prefault({})
      .describe('What is inspected on hot nodes.'),
    forecast: z
      .strictObject({
        horizonMinutes: z
          .number()
          .gt(0)
          .default(60)
          .describe(
            'Early warning: warn when a node is projected to run out of SNAT ports within this long.',
          ),
      })
      .prefault({})
      .describe('Early warning across runs (SNAT_EXHAUSTION_FORECAST, SNAT_ALLOCATION_DRIFT).'),
    notify: z
      .strictObject({
        slack: z
          .strictObject({
            webhookUrl: url('Slack incoming webhook URL (secret; file:/path or env:NAME allowed).'),
          })
          .prefault({}),
        teams: z
          .strictObject({
            webhookUrl: url('Teams Workflows webhook URL (secret; file:/path or env:NAME allowed).'),
          })
          .prefault({}),
        discord: z
          .strictObject({ webhookUrl: url('Discord webhook URL (secret; file:/path or env:NAME allowed).') })
          .prefault({}),
        webhook: z
          .strictObject({
            url: url(
              'Generic webhook receiving the RunReport JSON (secret; file:/path or env:NAME allowed).',
            ),
            secret: secret(
              z
                .string()
                .default('')
                .describe(
                  'HMAC-SHA256 signing secret for the generic webhook (file:/path or env:NAME allowed).',
                ),
            ),
          })
          .prefault({}),
        renotifyMinutes: z
          .number()
          .min(0)
          .default(60)
          .describe('The same finding is not sent again within this many minutes.'),
        timeoutSeconds: z
          .number()
          .gt(0)
          .default(10)
          .describe(
            'Each webhook attempt gives up after this long (3 attempts per channel; all of notify gets at most 10 s of the wrap-up).',
          ),
        minSeverity: z
          .enum(['info', 'warning', 'critical'])
          .default('warning')
          .describe('Only findings at or above this severity are sent.'),
      })
      .prefault({})
      .describe('Each channel is on when its URL is set.'),
    azure: z
      .strictObject({
        cloud: z
          .enum(['AzurePublicCloud', 'AzureChinaCloud', 'AzureUSGovernment'])
          .default('AzurePublicCloud')
          .describe(
            'Selects the ARM, metrics and authority endpoints together; the endpoint keys still override.',
          ),
        subscriptionId: optionalString('AKS subscription id.'),
        resourceGroup: optionalString('Resource group of the managed cluster.'),
        clusterName: optionalString('Managed cluster name.'),
        location: optionalString('Region, e.g. westeurope (for the regional metrics endpoint).'),
        clientId: optionalString('Client id of a user-assigned managed identity.'),
        armEndpoint: optionalString('ARM endpoint override (sovereign clouds, the simulator).'),
        metricsEndpoint: optionalString('Azure Monitor metrics endpoint override.'),
      })
      .prefault({})
      .describe('provider azure.'),
    aws: z
      .strictObject({
        region: optionalString('AWS region, e.g. eu-west-1.'),
        clusterName: optionalString('EKS cluster name.'),
        endpoint: optionalString('Endpoint override for the AWS clients (the simulator).'),
        notifySecretArn: optionalString(
          'Lambda: a Secrets Manager secret (JSON of SNATGUARD_NOTIFY_* keys) read into the environment before the run.',
        ),
      })
      .prefault({})
      .describe('provider aws.'),
    lock: z
      .strictObject({
        ttlSeconds: z
          .number()
          .int()
          .min(1)
          .default(600)
          .describe(
            'Longest Lease duration (with deadlineSeconds: at most the deadline + 15 s wrap-up); renewed every third of it while the run lives; a holder silent for longer is taken over.',
          ),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z
          .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
          .default('info')
          .describe('Log level (logs are JSON lines on stderr).'),
      })
      .prefault({}),
    deadlineSeconds: z
      .number()
      .gt(0)
      .optional()
      .describe('Stop inspecting and report what was found after this long; unset = no deadline.'),
  })
  .describe('snatguard configuration.');

/** The parsed, defaulted config every stage reads. */
export type Config = z.output<typeof configSchema>;
/** What a config file, env or flags may give (everything optional). */
export type ConfigInput = z.input<typeof configSchema>;
export type DestinationRule = z.output<typeof destinationRuleSchema>;
