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

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of the resource group, the Function App, storage, monitoring, Key Vault and the Event Grid topic.')
param location string

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
var sourceRegionName = toLower(empty(sourceRegion) ? location : trim(sourceRegion))
var targetRegionNames = filter(split(toLower(replace(targetRegions, ' ', '')), ','), region => !empty(region))
var createdRegionNames = createDocumentIntelligence ? concat([sourceRegionName], targetRegionNames) : []
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

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
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
    location: location
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
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    ferrySettings: union({
      FERRY_RESOURCES: ferryResourcesJson
      FERRY_SOURCE: ferrySource
      FERRY_TARGETS: ferryTargets
      FERRY_KEY_VAULT_URI: keyVault.outputs.uri
    }, ferryTuning)
  }
}

module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    topicName: '${abbrs.eventGridDomainsTopics}${resourceToken}'
    location: location
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
