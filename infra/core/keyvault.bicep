// Key Vault in RBAC mode holding the Document Intelligence keys. The Function App's identity may only read
// secrets (Key Vault Secrets User on this vault); the operator running azd may manage secrets (Key Vault
// Secrets Officer) so that keys can be rotated by hand. Soft delete + purge protection keep a deleted key
// recoverable for 90 days.

@description('Name of the vault (3-24 letters, digits and dashes, globally unique).')
param name string

@description('Region of the vault.')
param location string

@description('Tags applied to the vault.')
param tags object

@description('Principal (object) id of the Function App identity: granted Key Vault Secrets User.')
param appPrincipalId string

@description('Object id of the user running azd: granted Key Vault Secrets Officer for key rotation. Empty: no grant.')
param operatorPrincipalId string

@description('Principal type of operatorPrincipalId (User or ServicePrincipal).')
param operatorPrincipalType string

var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  // checkov:skip=CKV_AZURE_109: the Flex Consumption app runs without VNet integration and reaches the vault over its public endpoint; access is Entra ID + RBAC only
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109 (public network access needed without a VNet)
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, keyVaultSecretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource operatorSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, keyVaultSecretsOfficerRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficerRoleId)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
