#!/bin/sh
# azd postdeploy hook: Event Grid validates a subscription to an Azure Function against the deployed function,
# so the ModelTrained subscription (infra/app/eventgrid.bicep) can only be created once `azd deploy` has
# published on_model_trained. The first time, turn the switch on and provision again; later runs of `azd up`
# provision it directly. (`azd down` turns the switch off again, see postdown.sh.)
set -eu
if [ "${MODELFERRY_CREATE_EVENT_SUBSCRIPTION:-false}" != "true" ]; then
  echo "ModelFerry: the function code is deployed; creating the Event Grid subscription to on_model_trained."
  azd env set MODELFERRY_CREATE_EVENT_SUBSCRIPTION true
  azd provision --no-prompt
fi
