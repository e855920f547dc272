// What snatguard needs, per platform, declared once. The infrastructure code (infra/bicep,
// infra/terraform, infra/kubernetes/rbac.yaml) grants exactly this; test/infra checks it both ways.
// Plain data: no I/O, no imports.

/** Where an Azure role is assigned. */
export type AzureScopeKind =
  | 'node-resource-group' // the AKS node resource group (MC_…): load balancer, NICs, managed NAT gateway
  | 'network-resource-groups' // optional: resource groups of a BYO VNet's subnets and user-assigned NAT gateway
  | 'cluster' // the Microsoft.ContainerService/managedClusters resource
  | 'key-vault' // the vault holding the webhook URLs
  | 'storage-account' // the Function App's own storage (deployment package, host locks)
  | 'application-insights'; // the Function App's telemetry sink

export interface AzureRoleGrant {
  /** Key of the role in Bicep (`var roleIds`) and Terraform (`local.role_ids`); one role may have several grants. */
  key: string;
  /** Built-in role definition id (the same in every tenant). */
  roleDefinitionId: string;
  roleName: string;
  scope: AzureScopeKind;
  /** `code`: snatguard's own calls; `host`: the Functions host running it. */
  neededBy: 'code' | 'host';
  why: string;
}

export const AZURE_ROLES: readonly AzureRoleGrant[] = [
  {
    key: 'monitoringReader',
    roleDefinitionId: '43d0d8ad-25c7-4714-9337-8ba259a9fe05',
    roleName: 'Monitoring Reader',
    scope: 'node-resource-group',
    neededBy: 'code',
    why:
      'Reads UsedSnatPorts/AllocatedSnatPorts/SnatConnectionCount (Microsoft.Insights/metrics/read) and, ' +
      'through its */read action, the load balancer, NICs and NAT gateway that map backend IPs to nodes.',
  },
  {
    key: 'monitoringReader',
    roleDefinitionId: '43d0d8ad-25c7-4714-9337-8ba259a9fe05',
    roleName: 'Monitoring Reader',
    scope: 'network-resource-groups',
    neededBy: 'code',
    why:
      'Only with a BYO VNet and a user-assigned NAT gateway (outboundType userAssignedNATGateway): reads the ' +
      'agent pool subnets and the NAT gateway with its metrics, which live outside the node resource group.',
  },
  {
    key: 'aksClusterUser',
    roleDefinitionId: '4abbcc35-e782-43d8-92c5-2d3f1bd2253f',
    roleName: 'Azure Kubernetes Service Cluster User Role',
    scope: 'cluster',
    neededBy: 'code',
    why:
      'managedClusters/read (node resource group, outbound profile) and listClusterUserCredential/action ' +
      '(API server URL and CA); Kubernetes permissions themselves come from rbac.yaml bindings.',
  },
  {
    key: 'keyVaultSecretsUser',
    roleDefinitionId: '4633458b-17de-408a-b874-0445c86b69e6',
    roleName: 'Key Vault Secrets User',
    scope: 'key-vault',
    neededBy: 'host',
    why: 'Lets App Service resolve the @Microsoft.KeyVault(...) references that hold the webhook URLs.',
  },
  {
    key: 'storageBlobDataOwner',
    roleDefinitionId: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    roleName: 'Storage Blob Data Owner',
    scope: 'storage-account',
    neededBy: 'host',
    why:
      'Flex Consumption reads the deployment package with the identity, and the host keeps timer ' +
      'schedule status and singleton leases in blobs (AzureWebJobsStorage, identity-based).',
  },
  {
    key: 'monitoringMetricsPublisher',
    roleDefinitionId: '3913510d-42f4-4e42-8a64-420c390055eb',
    roleName: 'Monitoring Metrics Publisher',
    scope: 'application-insights',
    neededBy: 'host',
    why: 'Entra-authenticated telemetry to Application Insights (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).',
  },
];

/**
 * How the Azure identity gets Kubernetes permissions, and why this way.
 * AKS with Entra ID integration and Kubernetes RBAC: bind the managed identity's object (principal)
 * id, as a `User` subject, to rbac.yaml's ClusterRole and Role.
 */
export const AZURE_KUBERNETES_ACCESS = {
  subjectKind: 'User',
  subjectName: 'the user-assigned identity principal (object) id',
  rejected: [
    {
      roleName: 'Azure Kubernetes Service RBAC Writer',
      roleDefinitionId: 'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb',
      why: 'has no core nodes/read (only metrics.k8s.io nodes), and snatguard must list Node objects.',
    },
    {
      roleName: 'Azure Kubernetes Service RBAC Cluster Admin',
      roleDefinitionId: 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b',
      why: 'far too broad: secrets, delete, every resource in every namespace.',
    },
  ],
} as const;

/** Which IAM principal an AWS grant belongs to. */
export type AwsPrincipal = 'lambda' | 'scheduler';
/** What an AWS statement's Resource is. `*` where the action has no resource-level permissions. */
export type AwsResourceKind =
  | 'any'
  | 'cluster'
  | 'vpc-cni-addon'
  | 'notify-secret'
  | 'log-group'
  | 'function';

export interface AwsIamGrant {
  /** Statement id used in Terraform's policy documents. */
  sid: string;
  principal: AwsPrincipal;
  actions: readonly string[];
  resource: AwsResourceKind;
  neededBy: 'code' | 'host';
  why: string;
}

export const AWS_IAM: readonly AwsIamGrant[] = [
  {
    sid: 'ReadMetrics',
    principal: 'lambda',
    actions: ['cloudwatch:GetMetricData', 'cloudwatch:ListMetrics'],
    resource: 'any',
    neededBy: 'code',
    why:
      'NAT gateway ErrorPortAllocation/ActiveConnectionCount and ENA conntrack_allowance_exceeded; ' +
      'ListMetrics finds the dimension sets the CloudWatch agent published (InstanceId, interface, driver); ' +
      'neither has resource-level permissions.',
  },
  {
    sid: 'DescribeCluster',
    principal: 'lambda',
    actions: ['eks:DescribeCluster'],
    resource: 'cluster',
    neededBy: 'code',
    why: 'API server endpoint and CA for the IAM-authenticated Kubernetes client.',
  },
  {
    sid: 'DescribeAddon',
    principal: 'lambda',
    actions: ['eks:DescribeAddon'],
    resource: 'vpc-cni-addon',
    neededBy: 'code',
    why:
      'Whether aws-node is the managed add-on vpc-cni (and its configuration values): the advice then says ' +
      'aws eks update-addon --configuration-values, which add-on updates keep, instead of kubectl set env.',
  },
  {
    sid: 'DescribeNetwork',
    principal: 'lambda',
    actions: ['ec2:DescribeNatGateways'],
    resource: 'any',
    neededBy: 'code',
    why:
      'Finds the available NAT gateways in the cluster VPC (from eks:DescribeCluster); EC2 Describe* calls ' +
      'have no resource-level permissions.',
  },
  {
    sid: 'ReadNotifySecret',
    principal: 'lambda',
    actions: ['secretsmanager:GetSecretValue'],
    resource: 'notify-secret',
    neededBy: 'code',
    why: 'The webhook URLs and signing secret live in one Secrets Manager secret, never in environment variables.',
  },
  {
    sid: 'WriteLogs',
    principal: 'lambda',
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    resource: 'log-group',
    neededBy: 'host',
    why: 'The Lambda runtime writes to the pre-created log group (with retention); no CreateLogGroup.',
  },
  {
    sid: 'InvokeScan',
    principal: 'scheduler',
    actions: ['lambda:InvokeFunction'],
    resource: 'function',
    neededBy: 'host',
    why: 'EventBridge Scheduler assumes this role to invoke the function every 5 minutes.',
  },
];

/** The EKS access entry that maps the Lambda role to a Kubernetes group bound in rbac.yaml. */
export const AWS_EKS_ACCESS = {
  type: 'STANDARD',
  kubernetesGroups: ['snatguard'],
} as const;

/** One Kubernetes RBAC rule, as in a (Cluster)Role. */
export interface KubernetesRule {
  apiGroups: readonly string[];
  resources: readonly string[];
  verbs: readonly string[];
  resourceNames?: readonly string[];
}

/** Kubernetes names shared by namespace.yaml, rbac.yaml, cronjob.yaml, node-probe.yaml and the cloud access mappings. */
export const KUBERNETES_NAMES = {
  namespace: 'snatguard',
  serviceAccount: 'snatguard',
  /** The group EKS access entries put the Lambda role in; rbac.yaml binds it. */
  group: 'snatguard',
  clusterRole: 'snatguard',
  role: 'snatguard',
  nodeProbeLabel: 'snatguard-node-probe',
} as const;

/**
 * The cluster side every deployment path applies: the namespace, rbac.yaml and snatguard's node probe
 * (the default conntrack reader; kube-proxy cannot serve on AKS or EKS). The CronJob path applies them
 * with `kubectl apply -k infra/kubernetes`. Bicep and Terraform print these commands as an output
 * instead of applying them: those templates hold no Kubernetes credentials (a Terraform kubernetes
 * provider would need the cluster reachable at plan time and cluster-admin rights in its state; Bicep's
 * Kubernetes extension is a preview that needs the admin kubeconfig, which Entra-only clusters refuse).
 */
export const KUBERNETES_SETUP_COMMANDS = [
  'kubectl apply -f infra/kubernetes/namespace.yaml -f infra/kubernetes/rbac.yaml -f infra/kubernetes/node-probe.yaml',
] as const;

/** Cluster-wide rules (ClusterRole `snatguard`). */
export const KUBERNETES_CLUSTER_RULES: readonly KubernetesRule[] = [
  // Which nodes exist, their provider ids and internal IPs (map cloud metrics to nodes).
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list'] },
  // Pods on a hot node (fieldSelector spec.nodeName) and their owners.
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
  // `cat /proc/net/tcp /proc/net/tcp6` in each pod; WebSocket exec is a GET upgrade (get) and
  // newer API servers also require create.
  { apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'] },
  // Pod → ReplicaSet → Deployment.
  { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list'] },
  // Rails (paused, rollout in progress, replicas) and the rollout-restart merge patch.
  { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: ['get', 'patch'] },
];

/** Rules in the job's namespace only (Role `snatguard` in `snatguard`). */
export const KUBERNETES_NAMESPACE_RULES: readonly KubernetesRule[] = [
  // The run lock.
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
  // The state ConfigMap (cooldowns, notification dedup).
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create', 'update'] },
];

/** Settings (environment variables) every deployment sets, per platform. */
export const DEPLOYMENT_SETTINGS = {
  common: ['SNATGUARD_MODE', 'SNATGUARD_PROVIDER', 'SNATGUARD_CLUSTER_CONNECTION', 'SNATGUARD_NAMESPACE'],
  azureFunctions: [
    'SNATGUARD_SCHEDULE',
    'SNATGUARD_AZURE_SUBSCRIPTION_ID',
    'SNATGUARD_AZURE_RESOURCE_GROUP',
    'SNATGUARD_AZURE_CLUSTER_NAME',
    'SNATGUARD_AZURE_LOCATION',
    'SNATGUARD_AZURE_CLIENT_ID',
  ],
  awsLambda: ['SNATGUARD_AWS_REGION', 'SNATGUARD_AWS_CLUSTER_NAME', 'SNATGUARD_AWS_NOTIFY_SECRET_ARN'],
  kubernetesCronJob: [],
} as const;

/**
 * SNATGUARD_* settings the infrastructure sets that the hosts read, not the config loader; each must be
 * in src/config/load.ts `envPassthrough` (the loader rejects unknown SNATGUARD_* variables).
 * (SNATGUARD_AWS_NOTIFY_SECRET_ARN is the config key aws.notifySecretArn: the Lambda host reads that
 * Secrets Manager secret, JSON of SNATGUARD_NOTIFY_* keys, into its environment before loading the config.)
 */
export const HOST_READ_SETTINGS = ['SNATGUARD_SCHEDULE'] as const;

/** Settings that hold secrets: never plain values in app settings or manifests. */
export const SECRET_SETTINGS = [
  'SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL',
  'SNATGUARD_NOTIFY_TEAMS_WEBHOOK_URL',
  'SNATGUARD_NOTIFY_DISCORD_WEBHOOK_URL',
  'SNATGUARD_NOTIFY_WEBHOOK_URL',
  'SNATGUARD_NOTIFY_WEBHOOK_SECRET',
] as const;
