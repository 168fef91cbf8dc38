// The Durable Task Scheduler backend (MODELFERRY_DURABLE_BACKEND=dts): a scheduler (Consumption SKU) with one
// task hub, in the control region next to the app. The app's identity holds Durable Task Data Contributor on
// that one task hub, nothing broader; the app switches provider through app settings (see main.bicep), so
// host.json stays the same for both backends.

@description('Name of the scheduler (letters, digits and hyphens, 3-64).')
param name string

@description('Name of the task hub the app uses (TASKHUB_NAME).')
param taskHubName string

@description('Region of the scheduler: the control region.')
param location string

@description('Tags applied to the scheduler.')
param tags object

@description('Principal (object) id of the Function App identity.')
param principalId string

// Durable Task Data Contributor: the role a Durable Functions app needs (client and worker operations on the
// task hub: schedule, dequeue, complete, query, terminate, purge).
var durableTaskDataContributorRoleId = '0ad04412-c4d5-4796-b79c-f76d14c8d402'

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    // Like storage and the vault: public endpoint, Entra ID only (DTS has no keys); the Flex app has no VNet.
    ipAllowlist: [
      '0.0.0.0/0'
    ]
    publicNetworkAccess: 'Enabled'
    sku: {
      name: 'Consumption'
    }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
  properties: {}
}

resource appTaskHubAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(taskHub.id, principalId, durableTaskDataContributorRoleId)
  scope: taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = scheduler.name
output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
