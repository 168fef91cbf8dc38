# azd preprovision hook (Windows): see preprovision.sh for why the placement is checked here and in Bicep.
$ErrorActionPreference = 'Stop'
function Lower([string]$value) { return ($value -replace ' ', '').ToLowerInvariant() }

$backend = if ($env:MODELFERRY_DURABLE_BACKEND) { $env:MODELFERRY_DURABLE_BACKEND } else { 'azureStorage' }
if ($backend -cne 'azureStorage' -and $backend -cne 'dts') {
  Write-Error "ModelFerry: MODELFERRY_DURABLE_BACKEND is '$backend'; use 'azureStorage' (the default) or 'dts' (Durable Task Scheduler)."
  exit 1
}
if ($env:MODELFERRY_CREATE_DOCUMENT_INTELLIGENCE -and $env:MODELFERRY_CREATE_DOCUMENT_INTELLIGENCE -ne 'true') { exit 0 }
$sourceRegion = Lower $(if ($env:MODELFERRY_SOURCE_REGION) { $env:MODELFERRY_SOURCE_REGION } else { $env:AZURE_LOCATION })
$firstTarget = @((Lower $env:MODELFERRY_TARGET_REGIONS) -split ',' | Where-Object { $_ })[0]
$control = Lower $env:MODELFERRY_CONTROL_REGION
if (-not $control) { $control = if ($firstTarget) { $firstTarget } else { Lower $env:AZURE_LOCATION } }
if ($control -eq $sourceRegion -and $env:MODELFERRY_ALLOW_CONTROL_IN_SOURCE_REGION -ne 'true') {
  Write-Error "ModelFerry: the control region ($control) is the source region. The app, its storage, monitoring and Key Vault would go down together with the source account, exactly when failover needs them. Set MODELFERRY_CONTROL_REGION to another region (default: the first of MODELFERRY_TARGET_REGIONS), or set MODELFERRY_ALLOW_CONTROL_IN_SOURCE_REGION=true to accept this on purpose."
  exit 1
}
Write-Host "ModelFerry: control plane in $control, source account in $sourceRegion, Durable backend $backend."
