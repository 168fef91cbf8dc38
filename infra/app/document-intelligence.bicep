// One Document Intelligence (Form Recognizer) account created by the deployment: S0 (custom models and the
// Copy API need a paid tier) with a custom subdomain (required for Entra ID tokens, i.e. keyless mode).

@description('Account name, also used as its custom subdomain (globally unique).')
param name string

@description('Region of the account.')
param location string

@description('Tags applied to the account.')
param tags object

@description('true when the app calls the account with its managed identity only: keys are then disabled.')
param disableLocalAuth bool

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'FormRecognizer'
  sku: {
    name: 'S0'
  }
  identity: {
    type: 'SystemAssigned'
  }
  // checkov:skip=CKV_AZURE_134: the copy API is called from the Flex Consumption app without VNet integration, and client applications call the account over its public endpoint
  // checkov:skip=CKV_AZURE_236: keys stay enabled in the default key mode (the app reads them from Key Vault); documentIntelligenceAuth=identity disables them through disableLocalAuth, which checkov cannot evaluate
  properties: {
    customSubDomainName: name
    publicNetworkAccess: 'Enabled'
    disableLocalAuth: disableLocalAuth
    networkAcls: {
      defaultAction: 'Allow'
    }
  }
}
