// Copies one Document Intelligence account key into Key Vault as a secret. This is the ONLY place a key is
// read (listKeys) and it goes straight into the secret's value: never into an output, a parameter or an app
// setting. Re-running the deployment writes the currently active key again (a new secret version).

@description('Name of the Key Vault (in this resource group).')
param vaultName string

@description('Name of the secret to write (the keySecretName in FERRY_RESOURCES).')
param secretName string

@description('Resource id of the Document Intelligence account whose key is stored.')
param accountId string

@description('Which of the account\'s two keys the app uses: key1 normally, key2 while key1 is being regenerated.')
@allowed([
  'key1'
  'key2'
])
param activeKey string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  // checkov:skip=CKV_AZURE_41: a Document Intelligence key has no expiry of its own; an expiry date on the secret would only make the app fail on that date. Keys are rotated with the two-key runbook in docs/deployment.md
  properties: {
    value: listKeys(accountId, '2024-10-01')[activeKey]
    contentType: 'text/plain; Document Intelligence subscription key'
    attributes: {
      enabled: true
    }
  }
}
