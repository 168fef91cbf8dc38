# azd postdown hook (Windows): see postdown.sh.
$ErrorActionPreference = 'Stop'
azd env set MODELFERRY_CREATE_EVENT_SUBSCRIPTION false
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
