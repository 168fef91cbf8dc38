// Where the control plane (the Function App, its storage and task hub, monitoring, the Key Vault) runs, and the
// refusal to put it in the source region.
//
// ModelFerry exists for the day the source region is down: the replica catalog, a failover export and a sync
// from a surviving replica to another region all need the app. An app in the source region goes down with it,
// so the control region defaults to the first target region and equals the source only when the deployer says
// so explicitly (allowControlInSourceRegion), for example in a test subscription.
//
// This file declares no resource: it is a check. It is the only file using fail(), which checkov's Bicep parser
// does not know, so tests/infra runs checkov with this one file skipped (and checks that it stays resource-free).
// The azd preprovision hook (infra/hooks/preprovision.*) applies the same rule before anything is deployed.

targetScope = 'subscription'

@description('Region of the source Document Intelligence account.')
param sourceRegion string

@description('The control region main.bicep chose (MODELFERRY_CONTROL_REGION, default the first target region).')
param controlRegion string

@description('Allow the control region to be the source region (MODELFERRY_ALLOW_CONTROL_IN_SOURCE_REGION).')
param allowControlInSourceRegion bool

var inSourceRegion = toLower(controlRegion) == toLower(sourceRegion)
var refusal = 'ModelFerry: the control region (${controlRegion}) is the source region. The app, its storage, monitoring and Key Vault would go down together with the source account, exactly when failover needs them. Set MODELFERRY_CONTROL_REGION to another region (default: the first target region), or set MODELFERRY_ALLOW_CONTROL_IN_SOURCE_REGION=true to accept this on purpose.'

output controlRegion string = (inSourceRegion && !allowControlInSourceRegion) ? fail(refusal) : controlRegion
