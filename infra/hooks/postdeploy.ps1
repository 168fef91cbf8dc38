# azd postdeploy hook (Windows): see postdeploy.sh for why the Event Grid subscription is created here.
$ErrorActionPreference = 'Stop'
if ($env:MODELFERRY_CREATE_EVENT_SUBSCRIPTION -ne 'true') {
  Write-Host 'ModelFerry: the function code is deployed; creating the Event Grid subscription to on_model_trained.'
  azd env set MODELFERRY_CREATE_EVENT_SUBSCRIPTION true
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
  azd provision --no-prompt
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
