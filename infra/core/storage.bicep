// The Function App's storage account: host state (AzureWebJobsStorage), the Durable Functions task hub
// (queues + tables + blob leases), the Flex Consumption deployment package container and the Event Grid
// dead-letter container. Shared-key access is disabled: every client (the Functions host, the Durable
// extension, azd's deployment, Event Grid's dead-lettering) authenticates with Entra ID.

@description('Name of the storage account (3-24 lower-case letters and digits, globally unique).')
param name string

@description('Region of the storage account.')
param location string

@description('Tags applied to the storage account.')
param tags object

@description('Principal (object) id of the Function App identity.')
param principalId string

@description('Blob container holding the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Blob container receiving ModelTrained events that Event Grid could not deliver.')
param deadLetterContainerName string

// Blob Data Owner (not Contributor): the Functions host manages blob leases and containers for the task hub.
// Queue and Table Data Contributor: the Durable Functions Azure Storage provider's control/work-item queues
// and its History/Instances tables. All three are scoped to this one account.
var storageRoleIds = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  // checkov:skip=CKV_AZURE_35: the Flex Consumption app runs without VNet integration, so the account must accept public traffic; it accepts Entra ID only (no shared keys)
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35 (public network access with Entra-only authentication)
  // checkov:skip=CKV_AZURE_206: LRS is enough for host state and a task hub that can be recreated; the models themselves live in Document Intelligence
  tags: tags
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in storageRoleIds: {
  name: guid(storage.id, principalId, roleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output deploymentContainerName string = deploymentContainer.name
output deadLetterContainerName string = deadLetterContainer.name
