// The custom topic a training pipeline publishes ModelTrained events to, and the subscription that delivers
// them to the on_model_trained function.
//
// Identity everywhere: the topic accepts Entra ID publishers only (disableLocalAuth: no SAS keys), publishers
// need EventGrid Data Sender on this topic; undeliverable events are dead-lettered into a blob container of the
// app's storage account using the topic's system-assigned identity (deadLetterWithResourceIdentity), which is
// granted Storage Blob Data Contributor on that ONE container - the storage account has no shared keys, so a
// key-based dead-letter destination would not work anyway. Delivery to an AzureFunction endpoint needs no
// credential of ours: Event Grid resolves the function's system key itself.
//
// The subscription can only be validated once the function exists, i.e. after `azd deploy`; the azd postdeploy
// hook (infra/hooks/postdeploy.*) re-runs the provisioning with createEventSubscription = true.

@description('Name of the custom topic.')
param topicName string

@description('Region of the topic.')
param location string

@description('Tags applied to the topic.')
param tags object

@description('Name of the Function App hosting on_model_trained.')
param functionAppName string

@description('Name of the storage account holding the dead-letter container.')
param storageAccountName string

@description('Blob container receiving undeliverable events.')
param deadLetterContainerName string

@description('Create the event subscription (only once the function code is deployed).')
param createEventSubscription bool

@description('Object ids allowed to publish to the topic (EventGrid Data Sender), with their principal type.')
param publishers array

var eventGridDataSenderRoleId = 'd5a91429-5739-47e2-a06b-3470a27159e7'
var storageBlobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: deadLetterContainerName
}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: topicName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  // checkov:skip=CKV_AZURE_193: training pipelines publish from outside any VNet; publishing requires an Entra ID token with EventGrid Data Sender (local auth is disabled)
  properties: {
    inputSchema: 'EventGridSchema'
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: true
    minimumTlsVersionAllowed: '1.2'
  }
}

resource publisherRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for publisher in publishers: {
  name: guid(topic.id, publisher.principalId, eventGridDataSenderRoleId)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSenderRoleId)
    principalId: publisher.principalId
    principalType: publisher.principalType
  }
}]

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, topic.id, storageBlobDataContributorRoleId)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributorRoleId)
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource modelTrainedSubscription 'Microsoft.EventGrid/topics/eventSubscriptions@2025-02-15' = if (createEventSubscription) {
  parent: topic
  name: 'model-trained-to-modelferry'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionApp.id}/functions/on_model_trained'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'ModelTrained'
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
  dependsOn: [
    deadLetterWriter
  ]
}

output name string = topic.name
output endpoint string = topic.properties.endpoint
