// ModelFerry: everything `azd up` deploys, in one resource group.
//
// Plain resource declarations (in infra/core and infra/app) rather than Azure Verified Modules: the offline
// checks in tests/infra parse these files with a pure-Python Bicep parser and must SEE every property they
// assert (app settings, role definition ids and scopes, security flags, where listKeys goes). A registry module
// (br/public:avm/...) is opaque offline, so its defaults could be neither checked nor scanned by checkov.
//
// Document Intelligence accounts: with createDocumentIntelligence (default) one source account in sourceRegion
// and one target account per region in targetRegions are created, aliased by their region name. Without it,
// existing accounts are described by existingSourceAccount / existingTargetAccounts. Either way the Function
// App identity gets Cognitive Services User on each account and, in key mode, each account's active key is
// written into Key Vault by the deployment. FERRY_RESOURCES is computed from the same list, so the app settings
// always describe exactly the accounts that were wired.
//
// Placement: the control plane (identity, app, storage and task hub, monitoring, Key Vault, the Durable Task
// Scheduler when chosen) runs in controlRegion, by default the first target region and never the source region
// unless allowControlInSourceRegion is set (infra/core/placement.bicep refuses it otherwise): ModelFerry is needed
// most when the source region is down. The Event Grid topic stays in the source region, with the training
// pipeline that publishes to it, and delivers to the app across regions.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; seeds every resource name.')
param environmentName string

@minLength(1)
@description('The azd location: seeds the resource names and is the default source region. The control plane goes to controlRegion.')
param location string

@description('Region of the control plane: the resource group, the Function App, its storage, monitoring, the Key Vault (and the Durable Task Scheduler). Empty: the first target region.')
param controlRegion string = ''

@description('Allow the control region to be the source region. Off by default: the control plane would go down together with the source.')
param allowControlInSourceRegion bool = false

@description('Durable Functions backend: azureStorage (task hub in the app\'s storage account) or dts (a Durable Task Scheduler and task hub).')
@allowed([
  'azureStorage'
  'dts'
])
param durableBackend string = 'azureStorage'

@description('E-mail address the alert rules notify (action group). Empty: the alerts fire without a receiver.')
param alertEmail string = ''

@description('Alert when a source has had no successful sync for this many hours (twice the sync schedule\'s interval; at most 47, the longest window a log alert reads). 0: no such alert (no scheduled sync).')
@minValue(0)
@maxValue(47)
param syncStaleAfterHours int = 12

@description('Object id of the user running azd (AZURE_PRINCIPAL_ID): granted Key Vault Secrets Officer on the vault (key rotation) and EventGrid Data Sender on the topic (test events). Empty: no grant.')
param principalId string = ''

@description('Type of principalId: User when azd runs as a person, ServicePrincipal when it runs in a pipeline.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Object id of the training pipeline\'s service principal or managed identity that publishes ModelTrained events (EventGrid Data Sender on the topic). Empty: none.')
param eventPublisherPrincipalId string = ''

@description('true: create the Document Intelligence accounts (S0) in sourceRegion and targetRegions. false: use existingSourceAccount and existingTargetAccounts.')
param createDocumentIntelligence bool = true

@description('Region of the source account when createDocumentIntelligence is true (its alias is the region name). Empty: the deployment location.')
param sourceRegion string = ''

@description('Comma-separated regions of the target accounts when createDocumentIntelligence is true (each alias is the region name), e.g. "westeurope,northeurope".')
param targetRegions string = ''

@description('When createDocumentIntelligence is false: the source account, {"alias", "resourceId", "endpoint", "region"}.')
param existingSourceAccount object = {}

@description('When createDocumentIntelligence is false: the target accounts, each {"alias", "resourceId", "endpoint", "region"}.')
param existingTargetAccounts array = []

@description('Comma-separated aliases of the accounts encrypted with a customer-managed key (FERRY_RESOURCES cmk: true).')
param cmkAliases string = ''

@description('Document Intelligence API version the app calls every account with.')
@allowed([
  'v2.0'
  'v2.1'
  '2022-08-31'
  '2023-07-31'
  '2024-11-30'
])
param documentIntelligenceApiVersion string = '2024-11-30'

@description('key: the app reads each account key from Key Vault (keys are written there by the deployment). identity: the app calls the accounts with its managed identity; created accounts get local (key) auth disabled.')
@allowed([
  'key'
  'identity'
])
param documentIntelligenceAuth string = 'key'

@description('Which account key the deployment writes into Key Vault: key1 normally, key2 while key1 is being regenerated (see the rotation runbook).')
@allowed([
  'key1'
  'key2'
])
param documentIntelligenceActiveKey string = 'key1'

@description('Optional tuning app settings (defaults equal those of ferry/settings.py, checked by tests/infra).')
param ferryTuning object = {
  FERRY_COPY_DEADLINE_SECONDS: '3600'
  FERRY_POLL_INITIAL_SECONDS: '1'
  FERRY_POLL_BACKOFF_FACTOR: '1.1'
  FERRY_POLL_MAX_SECONDS: '15'
  FERRY_MAX_PARALLEL_TARGETS: '4'
  FERRY_ALLOW_CMK_DEGRADE: 'false'
  FERRY_MAX_AUTHORIZATION_ATTEMPTS: '3'
  FERRY_MAX_TRANSIENT_RETRIES: '6'
  FERRY_KEY_CACHE_SECONDS: '300'
  FERRY_PACING_LEAD_MS: '400'
  FERRY_PACING_MARGIN_MS: '30'
  FERRY_SYNC_SCHEDULE: '0 0 */6 * * *'
  FERRY_SYNC_MAX_PARALLEL_COPIES: '20'
  FERRY_SYNC_RELAY: 'true'
  FERRY_COPY_RELAY_BACKLOG_SECONDS: '2'
}

@description('Create the Event Grid subscription to on_model_trained. Set by the azd postdeploy hook once the function code exists.')
param createEventSubscription bool = false

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var resourceGroupName = '${abbrs.resourcesResourceGroups}${environmentName}'
var storageAccountName = '${abbrs.storageStorageAccounts}${resourceToken}'
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var deadLetterContainerName = 'eventgrid-deadletter'
var useKeys = documentIntelligenceAuth == 'key'
// Only functions that both pycep 0.7 (tests/infra) and checkov's pycep 0.5 parse: no map()/toObject() lambdas.
var cmkAliasList = split(replace(cmkAliases, ' ', ''), ',')

// Accounts created here: the source first, then one per target region.
var createdSourceRegion = toLower(empty(sourceRegion) ? location : trim(sourceRegion))
var targetRegionNames = filter(split(toLower(replace(targetRegions, ' ', '')), ','), region => !empty(region))
var createdRegionNames = createDocumentIntelligence ? concat([createdSourceRegion], targetRegionNames) : []
var createdAccounts = [for region in createdRegionNames: {
  alias: region
  name: '${abbrs.cognitiveServicesFormRecognizer}${resourceToken}-${region}'
  region: region
  subscriptionId: subscription().subscriptionId
  resourceGroupName: resourceGroupName
  resourceId: resourceId(subscription().subscriptionId, resourceGroupName, 'Microsoft.CognitiveServices/accounts', '${abbrs.cognitiveServicesFormRecognizer}${resourceToken}-${region}')
  endpoint: 'https://${abbrs.cognitiveServicesFormRecognizer}${resourceToken}-${region}.cognitiveservices.azure.com/'
}]

// Existing accounts, described by the caller: the source first, then the targets.
var existingAccountList = createDocumentIntelligence ? [] : concat([existingSourceAccount], existingTargetAccounts)
var existingAccounts = [for account in existingAccountList: {
  alias: account.alias
  name: last(split(account.resourceId, '/'))
  region: toLower(account.region)
  subscriptionId: split(account.resourceId, '/')[2]
  resourceGroupName: split(account.resourceId, '/')[4]
  resourceId: account.resourceId
  endpoint: account.endpoint
}]

// Placement (see the header): the source account's region, and the control region, by default the first target's.
var accountRegions = [for account in concat(createdAccounts, existingAccounts): account.region]
var sourceRegionName = empty(accountRegions) ? toLower(location) : first(accountRegions)
var defaultControlRegion = (length(accountRegions) > 1) ? accountRegions[1] : toLower(location)
var controlRegionName = empty(controlRegion) ? defaultControlRegion : toLower(trim(controlRegion))

var accounts = [for account in concat(createdAccounts, existingAccounts): union(account, {
  keySecretName: 'docintel-${replace(account.alias, '_', '-')}-key'
})]
var accountAliases = [for account in accounts: account.alias]
var keyedAccounts = useKeys ? accounts : []

// FERRY_RESOURCES: alias -> {endpoint, region, resourceId, apiVersion, keySecretName?, cmk}. Aliases are
// letters, digits, '-' and '_' (checked by ferry/settings.py), so quoting them needs no escaping.
var ferryResourceValues = [for account in accounts: union({
  endpoint: account.endpoint
  region: account.region
  resourceId: account.resourceId
  apiVersion: documentIntelligenceApiVersion
  cmk: contains(cmkAliasList, account.alias)
}, useKeys ? {
  keySecretName: account.keySecretName
} : {})]
var ferryResourceEntries = [for (account, i) in accounts: '"${account.alias}":${string(ferryResourceValues[i])}']
var ferryResourcesJson = '{${join(ferryResourceEntries, ',')}}'
var ferrySource = empty(accountAliases) ? '' : first(accountAliases)
var ferryTargets = join(skip(accountAliases, 1), ',')

// Durable backend: with dts the host's storage provider is switched by app settings overriding host.json
// (extensions.durableTask.*), so one host.json serves both backends; AzureWebJobsStorage stays (the host needs it).
var useDts = durableBackend == 'dts'
var durableTaskHubName = 'modelferry'

var publishers = concat(empty(principalId) ? [] : [
  {
    principalId: principalId
    principalType: principalType
  }
], empty(eventPublisherPrincipalId) ? [] : [
  {
    principalId: eventPublisherPrincipalId
    principalType: 'ServicePrincipal'
  }
])

// Refuses controlRegion == source region unless allowed; everything else waits for it (via the resource group).
module placement 'core/placement.bicep' = {
  name: 'placement-${resourceToken}'
  params: {
    sourceRegion: sourceRegionName
    controlRegion: controlRegionName
    allowControlInSourceRegion: allowControlInSourceRegion
  }
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: controlRegionName
  tags: tags
  dependsOn: [
    placement
  ]
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: controlRegionName
    tags: tags
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: controlRegionName
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: controlRegionName
    tags: tags
    principalId: identity.outputs.principalId
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
  }
}

module keyVault 'core/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: controlRegionName
    tags: tags
    appPrincipalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    operatorPrincipalType: principalType
  }
}

module documentIntelligence 'app/document-intelligence.bicep' = [for account in createdAccounts: {
  name: 'docintel-${account.region}'
  scope: rg
  params: {
    name: account.name
    location: account.region
    tags: tags
    disableLocalAuth: !useKeys
  }
}]

module documentIntelligenceAccess 'app/document-intelligence-access.bicep' = [for (account, i) in accounts: {
  name: 'docintel-access-${resourceToken}-${i}'
  scope: resourceGroup(account.subscriptionId, account.resourceGroupName)
  params: {
    accountName: account.name
    principalId: identity.outputs.principalId
  }
  dependsOn: [
    documentIntelligence
  ]
}]

module documentIntelligenceKeys 'app/document-intelligence-key.bicep' = [for (account, i) in keyedAccounts: {
  name: 'docintel-key-${i}'
  scope: rg
  params: {
    vaultName: keyVault.outputs.name
    secretName: account.keySecretName
    accountId: account.resourceId
    activeKey: documentIntelligenceActiveKey
  }
  dependsOn: [
    documentIntelligence
  ]
}]

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    planName: '${abbrs.webServerFarms}${resourceToken}'
    appName: functionAppName
    location: controlRegionName
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    hostSettings: useDts ? {
      DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskScheduler.outputs.endpoint};Authentication=ManagedIdentity;ClientID=${identity.outputs.clientId}'
      TASKHUB_NAME: durableTaskScheduler.outputs.taskHubName
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
      AzureFunctionsJobHost__extensions__durableTask__hubName: durableTaskScheduler.outputs.taskHubName
    } : {}
    ferrySettings: union({
      FERRY_RESOURCES: ferryResourcesJson
      FERRY_SOURCE: ferrySource
      FERRY_TARGETS: ferryTargets
      FERRY_KEY_VAULT_URI: keyVault.outputs.uri
    }, ferryTuning)
  }
}

module durableTaskScheduler 'app/durable-task-scheduler.bicep' = if (useDts) {
  name: 'durable-task-scheduler'
  scope: rg
  params: {
    name: 'dts-${resourceToken}'
    taskHubName: durableTaskHubName
    location: controlRegionName
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module runMonitoring 'app/run-monitoring.bicep' = {
  name: 'run-monitoring'
  scope: rg
  params: {
    location: controlRegionName
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    alertEmail: alertEmail
    syncStaleAfterHours: syncStaleAfterHours
    sources: empty(ferrySource) ? [] : [
      ferrySource
    ]
  }
}

module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    topicName: '${abbrs.eventGridDomainsTopics}${resourceToken}'
    location: sourceRegionName
    tags: tags
    functionAppName: functionApp.outputs.name
    storageAccountName: storage.outputs.name
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    createEventSubscription: createEventSubscription
    publishers: publishers
  }
}

// azd stores these in the environment (.azure/<env>/.env); docs/deployment.md uses them. No keys, no secrets.
output AZURE_LOCATION string = location
// the control region used, pinned in the azd environment: a later change of the target regions never moves it
output MODELFERRY_CONTROL_REGION string = placement.outputs.controlRegion
output MODELFERRY_DURABLE_TASK_SCHEDULER_ENDPOINT string = useDts ? durableTaskScheduler.outputs.endpoint : ''
output MODELFERRY_WORKBOOK_ID string = runMonitoring.outputs.workbookId
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output LOG_ANALYTICS_WORKSPACE_NAME string = monitoring.outputs.logAnalyticsName
output MODELFERRY_EVENT_GRID_TOPIC_NAME string = eventGrid.outputs.name
output MODELFERRY_EVENT_GRID_TOPIC_ENDPOINT string = eventGrid.outputs.endpoint
output MODELFERRY_SOURCE_ALIAS string = ferrySource
output MODELFERRY_TARGET_ALIASES string = ferryTargets
