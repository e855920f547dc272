// A role assignment at resource group scope. main.bicep deploys this module into the AKS node
// resource group (MC_…), which usually lives outside the deployment's own resource group.
targetScope = 'resourceGroup'

@description('Principal (object) id of the identity receiving the role.')
param principalId string

@description('Built-in role definition id (a GUID), from src/permissions.ts.')
param roleDefinitionId string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output assignmentId string = assignment.id
