// A role assignment on an existing AKS cluster (deployed into the cluster's resource group).
targetScope = 'resourceGroup'

@description('Name of the existing AKS cluster.')
param clusterName string

@description('Principal (object) id of the identity receiving the role.')
param principalId string

@description('Built-in role definition id (a GUID), from src/permissions.ts.')
param roleDefinitionId string

resource cluster 'Microsoft.ContainerService/managedClusters@2024-09-01' existing = {
  name: clusterName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(cluster.id, principalId, roleDefinitionId)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output assignmentId string = assignment.id
