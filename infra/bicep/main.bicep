// snatguard on Azure Functions (Flex Consumption, Node.js 22), scanning one AKS cluster every 5 minutes.
// Deploy into the resource group that should hold the Function App:
//   az deployment group create -g rg-snatguard -f infra/bicep/main.bicep -p infra/bicep/main.bicepparam
// The permissions granted here are exactly those in src/permissions.ts (test/infra checks it).
targetScope = 'resourceGroup'

@description('Region of the Function App and its resources.')
param location string = resourceGroup().location

@description('Prefix of every resource name.')
@minLength(3)
@maxLength(12)
param namePrefix string = 'snatguard'

@description('Subscription of the AKS cluster (defaults to this deployment\'s subscription).')
param clusterSubscriptionId string = subscription().subscriptionId

@description('Resource group of the AKS cluster.')
param clusterResourceGroup string

@description('Name of the AKS cluster.')
param clusterName string

@description('Region of the AKS cluster (for the regional Azure Monitor metrics endpoint).')
param clusterLocation string = location

@description('The cluster\'s node resource group (managedCluster.nodeResourceGroup, usually MC_<rg>_<cluster>_<region>).')
param nodeResourceGroup string

@description('Resource groups (in the cluster subscription) of a BYO VNet and a user-assigned NAT gateway, if any.')
param networkResourceGroups array = []

@description('NCRONTAB schedule of the timer ({second} {minute} {hour} {day} {month} {day-of-week}, UTC).')
param schedule string = '0 */5 * * * *'

@description('dry-run reports only; restart patches workloads (rollout restart) within the safety rails.')
@allowed([
  'dry-run'
  'restart'
])
param mode string = 'dry-run'

@description('Namespace holding the run Lease and the state ConfigMap (created by infra/kubernetes/rbac.yaml).')
param namespace string = 'snatguard'

@description('Safety rail: at most this many restarts per run.')
@minValue(0)
param maxRestartsPerRun int = 1

@description('Safety rail: minutes before the same workload may be restarted again.')
@minValue(0)
param cooldownMinutes int = 60

@description('Slack incoming webhook URL (empty: channel off). Stored in Key Vault.')
@secure()
param slackWebhookUrl string = ''

@description('Teams Workflows webhook URL (empty: channel off). Stored in Key Vault.')
@secure()
param teamsWebhookUrl string = ''

@description('Discord webhook URL (empty: channel off). Stored in Key Vault.')
@secure()
param discordWebhookUrl string = ''

@description('Generic webhook URL receiving the signed RunReport JSON (empty: channel off). Stored in Key Vault.')
@secure()
param webhookUrl string = ''

@description('HMAC-SHA256 secret signing the generic webhook. Stored in Key Vault.')
@secure()
param webhookSecret string = ''

@description('Days of log retention in the Log Analytics workspace.')
@minValue(30)
param logRetentionDays int = 30

@description('Flex Consumption instance memory (MB).')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Flex Consumption scale-out limit (the timer itself runs on one instance).')
@minValue(40)
param maximumInstanceCount int = 40

param tags object = {}

// Built-in role definition ids; keys and values equal src/permissions.ts AZURE_ROLES.
var roleIds = {
  monitoringReader: '43d0d8ad-25c7-4714-9337-8ba259a9fe05'
  aksClusterUser: '4abbcc35-e782-43d8-92c5-2d3f1bd2253f'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

var token = toLower(uniqueString(subscription().id, resourceGroup().id, namePrefix))
var functionAppName = '${namePrefix}-${token}'
var storageAccountName = take('st${toLower(replace(namePrefix, '-', ''))}${token}', 24)
var keyVaultName = take('kv-${namePrefix}-${token}', 24)
var deploymentContainerName = 'app-package'

// ---------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${namePrefix}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------------

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${namePrefix}-${token}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${namePrefix}-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

resource appInsightsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------------------------------------
// Storage: deployment package and host state (identity-based, no shared keys)
// ---------------------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobServices 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobServices
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource storageBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------------------------------------
// Key Vault (RBAC mode): webhook URLs and the signing secret, referenced from app settings
// ---------------------------------------------------------------------------------------------

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

resource keyVaultReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, identity.id, roleIds.keyVaultSecretsUser)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource slackSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(slackWebhookUrl)) {
  parent: keyVault
  name: 'slack-webhook-url'
  properties: {
    value: slackWebhookUrl
  }
}

resource teamsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(teamsWebhookUrl)) {
  parent: keyVault
  name: 'teams-webhook-url'
  properties: {
    value: teamsWebhookUrl
  }
}

resource discordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(discordWebhookUrl)) {
  parent: keyVault
  name: 'discord-webhook-url'
  properties: {
    value: discordWebhookUrl
  }
}

resource webhookUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(webhookUrl)) {
  parent: keyVault
  name: 'webhook-url'
  properties: {
    value: webhookUrl
  }
}

resource webhookSigningSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(webhookSecret)) {
  parent: keyVault
  name: 'webhook-secret'
  properties: {
    value: webhookSecret
  }
}

// Versionless references: App Service picks up a rotated secret within 24 h (or on restart).
var secretsUri = '${keyVault.properties.vaultUri}secrets'
var slackSetting = empty(slackWebhookUrl) ? {} : {
  SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=${secretsUri}/slack-webhook-url/)'
}
var teamsSetting = empty(teamsWebhookUrl) ? {} : {
  SNATGUARD_NOTIFY_TEAMS_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=${secretsUri}/teams-webhook-url/)'
}
var discordSetting = empty(discordWebhookUrl) ? {} : {
  SNATGUARD_NOTIFY_DISCORD_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=${secretsUri}/discord-webhook-url/)'
}
var webhookUrlSetting = empty(webhookUrl) ? {} : {
  SNATGUARD_NOTIFY_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=${secretsUri}/webhook-url/)'
}
var webhookSecretSetting = empty(webhookSecret) ? {} : {
  SNATGUARD_NOTIFY_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${secretsUri}/webhook-secret/)'
}

// ---------------------------------------------------------------------------------------------
// What snatguard itself needs on the cluster side
// ---------------------------------------------------------------------------------------------

module nodeResourceGroupReader 'modules/resource-group-role.bicep' = {
  name: 'snatguard-node-rg-monitoring-reader'
  scope: resourceGroup(clusterSubscriptionId, nodeResourceGroup)
  params: {
    principalId: identity.properties.principalId
    roleDefinitionId: roleIds.monitoringReader
  }
}

module networkReaders 'modules/resource-group-role.bicep' = [for rg in networkResourceGroups: {
  name: 'snatguard-network-rg-reader-${uniqueString(rg)}'
  scope: resourceGroup(clusterSubscriptionId, rg)
  params: {
    principalId: identity.properties.principalId
    roleDefinitionId: roleIds.monitoringReader
  }
}]

module clusterUser 'modules/cluster-role.bicep' = {
  name: 'snatguard-aks-cluster-user'
  scope: resourceGroup(clusterSubscriptionId, clusterResourceGroup)
  params: {
    clusterName: clusterName
    principalId: identity.properties.principalId
    roleDefinitionId: roleIds.aksClusterUser
  }
}

// ---------------------------------------------------------------------------------------------
// Function App (Flex Consumption, Linux, Node.js 22)
// ---------------------------------------------------------------------------------------------

// Functions host: identity-based storage and telemetry (FUNCTIONS_WORKER_RUNTIME is not allowed on Flex).
var hostSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  AZURE_CLIENT_ID: identity.properties.clientId
}

// snatguard's configuration (DESIGN.md "Config": SNATGUARD_ + upper snake case of the key path).
var snatguardSettings = {
  SNATGUARD_MODE: mode
  SNATGUARD_PROVIDER: 'azure'
  SNATGUARD_CLUSTER_CONNECTION: 'aks'
  SNATGUARD_NAMESPACE: namespace
  SNATGUARD_SCHEDULE: schedule
  SNATGUARD_AZURE_SUBSCRIPTION_ID: clusterSubscriptionId
  SNATGUARD_AZURE_RESOURCE_GROUP: clusterResourceGroup
  SNATGUARD_AZURE_CLUSTER_NAME: clusterName
  SNATGUARD_AZURE_LOCATION: clusterLocation
  SNATGUARD_AZURE_CLIENT_ID: identity.properties.clientId
  SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN: string(maxRestartsPerRun)
  SNATGUARD_RAILS_COOLDOWN_MINUTES: string(cooldownMinutes)
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${namePrefix}-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
  dependsOn: [
    deploymentContainer
    storageBlobOwner
  ]
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(hostSettings, snatguardSettings, slackSetting, teamsSetting, discordSetting, webhookUrlSetting, webhookSecretSetting)
  dependsOn: [
    keyVaultReader
    appInsightsPublisher
    nodeResourceGroupReader
    networkReaders
    clusterUser
    slackSecret
    teamsSecret
    discordSecret
    webhookUrlSecret
    webhookSigningSecret
  ]
}

output functionAppName string = functionApp.name
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output keyVaultName string = keyVault.name
// Run once against the cluster, before the binding commands (src/permissions.ts KUBERNETES_SETUP_COMMANDS):
// the namespace, rbac.yaml and snatguard's node probe, the conntrack reader. Not applied from here: this
// template holds no Kubernetes credentials.
output kubernetesSetupCommands array = [
  'kubectl apply -f infra/kubernetes/namespace.yaml -f infra/kubernetes/rbac.yaml -f infra/kubernetes/node-probe.yaml'
]
output kubernetesBindingCommands array = [
  'kubectl create clusterrolebinding snatguard-azure-identity --clusterrole=snatguard --user=${identity.properties.principalId}'
  'kubectl -n ${namespace} create rolebinding snatguard-azure-identity --role=snatguard --user=${identity.properties.principalId}'
]
