output "function_app_name" {
  description = "Deploy the package with: az functionapp deployment source config-zip (infra/README.md)."
  value       = azurerm_function_app_flex_consumption.this.name
}

output "resource_group_name" {
  value = azurerm_resource_group.this.name
}

output "identity_client_id" {
  value = azurerm_user_assigned_identity.this.client_id
}

output "identity_principal_id" {
  description = "Object id to bind in Kubernetes RBAC (User subject) to rbac.yaml's ClusterRole and Role."
  value       = azurerm_user_assigned_identity.this.principal_id
}

output "key_vault_name" {
  value = azurerm_key_vault.this.name
}

output "kubernetes_setup_commands" {
  description = "Run once against the cluster: the namespace, rbac.yaml and snatguard's node probe (the conntrack reader). Not applied by Terraform, which holds no Kubernetes credentials."
  value = [
    "kubectl apply -f infra/kubernetes/namespace.yaml -f infra/kubernetes/rbac.yaml -f infra/kubernetes/node-probe.yaml",
  ]
}

output "kubernetes_binding_commands" {
  description = "Run once against the cluster: binds the identity to rbac.yaml's ClusterRole and Role."
  value = [
    "kubectl create clusterrolebinding snatguard-azure-identity --clusterrole=snatguard --user=${azurerm_user_assigned_identity.this.principal_id}",
    "kubectl -n ${var.namespace} create rolebinding snatguard-azure-identity --role=snatguard --user=${azurerm_user_assigned_identity.this.principal_id}",
  ]
}
