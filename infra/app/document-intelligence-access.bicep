// Cognitive Services User for the Function App identity on ONE Document Intelligence account (keyless mode:
// the app calls the account with an Entra ID token). Deployed into the account's own resource group, so the
// same module serves accounts created here and existing accounts elsewhere.

@description('Name of the Document Intelligence account (in the resource group this module is deployed to).')
param accountName string

@description('Principal (object) id of the Function App identity.')
param principalId string

var cognitiveServicesUserRoleId = 'a97b65f3-24c7-4388-baec-2e87135dc908'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: accountName
}

resource cognitiveServicesUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, cognitiveServicesUserRoleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesUserRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
