# snatguard on Azure Functions (Flex Consumption, Node.js 22), scanning one AKS cluster every 5 minutes.
# The permissions granted here are exactly those in src/permissions.ts (test/infra checks it).

locals {
  # Built-in role definition ids; keys and values equal src/permissions.ts AZURE_ROLES.
  role_ids = {
    monitoringReader           = "43d0d8ad-25c7-4714-9337-8ba259a9fe05"
    aksClusterUser             = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"
    keyVaultSecretsUser        = "4633458b-17de-408a-b874-0445c86b69e6"
    storageBlobDataOwner       = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
    monitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb"
  }

  cluster_subscription_id = coalesce(var.cluster_subscription_id, var.subscription_id)
  node_resource_group_id  = "/subscriptions/${local.cluster_subscription_id}/resourceGroups/${var.node_resource_group}"
  cluster_id              = "/subscriptions/${local.cluster_subscription_id}/resourceGroups/${var.cluster_resource_group}/providers/Microsoft.ContainerService/managedClusters/${var.cluster_name}"

  token                     = substr(sha1("${var.subscription_id}/${var.resource_group_name}/${var.name_prefix}"), 0, 10)
  deployment_container_name = "app-package"

  # Key Vault secret name → app setting, per chat channel.
  notify_secrets = {
    slack   = { "slack-webhook-url" = "SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL" }
    teams   = { "teams-webhook-url" = "SNATGUARD_NOTIFY_TEAMS_WEBHOOK_URL" }
    discord = { "discord-webhook-url" = "SNATGUARD_NOTIFY_DISCORD_WEBHOOK_URL" }
    webhook = { "webhook-url" = "SNATGUARD_NOTIFY_WEBHOOK_URL", "webhook-secret" = "SNATGUARD_NOTIFY_WEBHOOK_SECRET" }
  }
  # Versionless references: App Service picks up a rotated secret within 24 h (or on restart).
  notify_settings = merge([
    for channel in sort(tolist(var.notify_channels)) : {
      for secret, setting in local.notify_secrets[channel] :
      setting => "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault.this.vault_uri}secrets/${secret}/)"
    }
  ]...)

  # Functions host: identity-based storage and telemetry (FUNCTIONS_WORKER_RUNTIME is not allowed on Flex).
  host_settings = {
    AzureWebJobsStorage__accountName          = azurerm_storage_account.this.name
    AzureWebJobsStorage__credential           = "managedidentity"
    AzureWebJobsStorage__clientId             = azurerm_user_assigned_identity.this.client_id
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "ClientId=${azurerm_user_assigned_identity.this.client_id};Authorization=AAD"
    AZURE_CLIENT_ID                           = azurerm_user_assigned_identity.this.client_id
  }

  # snatguard (DESIGN.md "Config": SNATGUARD_ + upper snake case of the key path).
  snatguard_settings = {
    SNATGUARD_MODE                       = var.mode
    SNATGUARD_PROVIDER                   = "azure"
    SNATGUARD_CLUSTER_CONNECTION         = "aks"
    SNATGUARD_NAMESPACE                  = var.namespace
    SNATGUARD_SCHEDULE                   = var.schedule
    SNATGUARD_AZURE_SUBSCRIPTION_ID      = local.cluster_subscription_id
    SNATGUARD_AZURE_RESOURCE_GROUP       = var.cluster_resource_group
    SNATGUARD_AZURE_CLUSTER_NAME         = var.cluster_name
    SNATGUARD_AZURE_LOCATION             = coalesce(var.cluster_location, var.location)
    SNATGUARD_AZURE_CLIENT_ID            = azurerm_user_assigned_identity.this.client_id
    SNATGUARD_RAILS_MAX_RESTARTS_PER_RUN = tostring(var.max_restarts_per_run)
    SNATGUARD_RAILS_COOLDOWN_MINUTES     = tostring(var.cooldown_minutes)
  }
}

data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "this" {
  name     = var.resource_group_name
  location = var.location
  tags     = var.tags
}

# ----------------------------------------------------------------------------------------------
# Identity
# ----------------------------------------------------------------------------------------------

resource "azurerm_user_assigned_identity" "this" {
  name                = "id-${var.name_prefix}"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  tags                = var.tags
}

# ----------------------------------------------------------------------------------------------
# Monitoring
# ----------------------------------------------------------------------------------------------

resource "azurerm_log_analytics_workspace" "this" {
  name                = "log-${var.name_prefix}-${local.token}"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = var.tags
}

resource "azurerm_application_insights" "this" {
  name                          = "appi-${var.name_prefix}-${local.token}"
  resource_group_name           = azurerm_resource_group.this.name
  location                      = azurerm_resource_group.this.location
  workspace_id                  = azurerm_log_analytics_workspace.this.id
  application_type              = "web"
  local_authentication_disabled = true
  tags                          = var.tags
}

resource "azurerm_role_assignment" "app_insights_publisher" {
  scope              = azurerm_application_insights.this.id
  role_definition_id = "/subscriptions/${var.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/${local.role_ids.monitoringMetricsPublisher}"
  principal_id       = azurerm_user_assigned_identity.this.principal_id
  principal_type     = "ServicePrincipal"
}

# ----------------------------------------------------------------------------------------------
# Storage: deployment package and host state (identity-based, no shared keys)
# ----------------------------------------------------------------------------------------------

resource "azurerm_storage_account" "this" {
  name                            = substr("st${replace(var.name_prefix, "-", "")}${local.token}", 0, 24)
  resource_group_name             = azurerm_resource_group.this.name
  location                        = azurerm_resource_group.this.location
  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
  min_tls_version                 = "TLS1_2"
  tags                            = var.tags
}

resource "azurerm_storage_container" "deployment" {
  name                  = local.deployment_container_name
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

resource "azurerm_role_assignment" "storage_blob_owner" {
  scope              = azurerm_storage_account.this.id
  role_definition_id = "/subscriptions/${var.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/${local.role_ids.storageBlobDataOwner}"
  principal_id       = azurerm_user_assigned_identity.this.principal_id
  principal_type     = "ServicePrincipal"
}

# ----------------------------------------------------------------------------------------------
# Key Vault (RBAC mode). The webhook URLs are put in with `az keyvault secret set` (infra/README.md),
# so they never enter Terraform state.
# ----------------------------------------------------------------------------------------------

resource "azurerm_key_vault" "this" {
  name                       = substr("kv-${var.name_prefix}-${local.token}", 0, 24)
  resource_group_name        = azurerm_resource_group.this.name
  location                   = azurerm_resource_group.this.location
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  enable_rbac_authorization  = true
  soft_delete_retention_days = 7
  tags                       = var.tags
}

resource "azurerm_role_assignment" "key_vault_secrets_user" {
  scope              = azurerm_key_vault.this.id
  role_definition_id = "/subscriptions/${var.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/${local.role_ids.keyVaultSecretsUser}"
  principal_id       = azurerm_user_assigned_identity.this.principal_id
  principal_type     = "ServicePrincipal"
}

# ----------------------------------------------------------------------------------------------
# What snatguard itself needs on the cluster side
# ----------------------------------------------------------------------------------------------

resource "azurerm_role_assignment" "node_resource_group_reader" {
  scope              = local.node_resource_group_id
  role_definition_id = "/subscriptions/${local.cluster_subscription_id}/providers/Microsoft.Authorization/roleDefinitions/${local.role_ids.monitoringReader}"
  principal_id       = azurerm_user_assigned_identity.this.principal_id
  principal_type     = "ServicePrincipal"
}

# Only with a BYO VNet and a user-assigned NAT gateway: their resource groups.
resource "azurerm_role_assignment" "network_reader" {
  for_each           = toset(var.network_resource_groups)
  scope              = "/subscriptions/${local.cluster_subscription_id}/resourceGroups/${each.value}"
  role_definition_id = "/subscriptions/${local.cluster_subscription_id}/providers/Microsoft.Authorization/roleDefinitions/${local.role_ids.monitoringReader}"
  principal_id       = azurerm_user_assigned_identity.this.principal_id
  principal_type     = "ServicePrincipal"
}

resource "azurerm_role_assignment" "cluster_user" {
  scope              = local.cluster_id
  role_definition_id = "/subscriptions/${local.cluster_subscription_id}/providers/Microsoft.Authorization/roleDefinitions/${local.role_ids.aksClusterUser}"
  principal_id       = azurerm_user_assigned_identity.this.principal_id
  principal_type     = "ServicePrincipal"
}

# ----------------------------------------------------------------------------------------------
# Function App (Flex Consumption, Linux, Node.js 22)
# ----------------------------------------------------------------------------------------------

resource "azurerm_service_plan" "this" {
  name                = "plan-${var.name_prefix}-${local.token}"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = var.tags
}

resource "azurerm_function_app_flex_consumption" "this" {
  name                = "${var.name_prefix}-${local.token}"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  service_plan_id     = azurerm_service_plan.this.id
  https_only          = true

  storage_container_type            = "blobContainer"
  storage_container_endpoint        = "${azurerm_storage_account.this.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
  storage_authentication_type       = "UserAssignedIdentity"
  storage_user_assigned_identity_id = azurerm_user_assigned_identity.this.id

  runtime_name           = "node"
  runtime_version        = "22"
  maximum_instance_count = var.maximum_instance_count
  instance_memory_in_mb  = var.instance_memory_in_mb

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.this.id]
  }
  key_vault_reference_identity_id = azurerm_user_assigned_identity.this.id

  site_config {
    application_insights_connection_string = azurerm_application_insights.this.connection_string
  }

  app_settings = merge(local.host_settings, local.snatguard_settings, local.notify_settings)

  tags = var.tags

  depends_on = [
    azurerm_role_assignment.storage_blob_owner,
    azurerm_role_assignment.key_vault_secrets_user,
    azurerm_role_assignment.app_insights_publisher,
  ]
}
