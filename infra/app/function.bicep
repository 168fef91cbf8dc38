// The ModelFerry Function App on the Flex Consumption plan (FC1), Python 3.11, running as the user-assigned
// identity. Storage (host state and the Durable Functions task hub) is reached with identity-based connections,
// Application Insights with Entra ID; the app settings hold URIs and Key Vault secret NAMES only.

@description('Name of the Flex Consumption plan.')
param planName string

@description('Name of the Function App (globally unique host name).')
param appName string

@description('Region of the plan and the app.')
param location string

@description('Tags applied to the plan and the app.')
param tags object

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity (AZURE_CLIENT_ID and the __clientId of identity-based connections).')
param identityClientId string

@description('Name of the storage account used for AzureWebJobsStorage and the Durable task hub.')
param storageAccountName string

@description('Blob container of that account holding the deployment package.')
param deploymentContainerName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Host settings of the chosen Durable backend: empty for Azure Storage; for the Durable Task Scheduler its connection, task hub and the host.json overrides that select the azureManaged provider.')
param hostSettings object = {}

@description('The product\'s own FERRY_* app settings (names are checked against ferry.settings.SETTINGS).')
param ferrySettings object

@description('Upper bound of instances the Flex Consumption plan scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  // checkov:skip=CKV_AZURE_225: the copy targets in other regions are the disaster-recovery story; a zone-redundant Flex plan needs always-ready instances that cost money around the clock
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  // checkov:skip=CKV_AZURE_222: the HTTP starter (function key) and Event Grid's webhook delivery reach the app over its public endpoint; there is no VNet in this template
  // checkov:skip=CKV_AZURE_17: client certificates would break Event Grid delivery and the function-key-protected HTTP starter
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero on demand; a minimum (always-ready) instance count is a cost choice, not needed for correctness (durable state is in storage)
  // checkov:skip=CKV_AZURE_213: Flex Consumption has no health-check path setting; instances are created per demand and the host's health is visible in Application Insights
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION (they live in
// functionAppConfig.runtime), so only the connections and the product settings are set here.
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov applies its siteConfig ('web') checks to every Microsoft.Web/sites/config resource; this one holds
  // app settings only, so each of these is a false positive (and none of the settings apply to Python on Flex):
  // checkov:skip=CKV_AZURE_13: App Service Authentication (Easy Auth) would reject Event Grid deliveries; the HTTP starter is protected by a function key
  // checkov:skip=CKV_AZURE_63: App Service HTTP logging is not available on Flex Consumption; requests are logged to Application Insights
  // checkov:skip=CKV_AZURE_65: detailed error pages are an IIS/App Service web feature; function failures go to Application Insights
  parent: functionApp
  // checkov:skip=CKV_AZURE_66: failed request tracing is an IIS/App Service web feature; failed invocations go to Application Insights
  // checkov:skip=CKV_AZURE_80: .NET Framework version: the app is Python 3.11 (functionAppConfig.runtime)
  // checkov:skip=CKV_AZURE_88: Azure Files content share: Flex Consumption deploys from a blob container, not a file share
  // checkov:skip=CKV_AZURE_222: public network access is a property of the site (explained there), not of its app settings
  name: 'appsettings'
  properties: union({
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
    AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    AZURE_CLIENT_ID: identityClientId
  }, hostSettings, ferrySettings)
}

// No FTP and no basic-auth deployment credentials: azd deploys with Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output id string = functionApp.id
output defaultHostName string = functionApp.properties.defaultHostName
