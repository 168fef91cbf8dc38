// Portal monitoring over the app's finished-run records (logger modelferry.runs, ferry/telemetry.py): an Azure
// Monitor workbook and three log alert rules notifying one action group.
//
// Every query starts with the same `runs` definition (infra/monitoring/runs.kql, put in place of __RUNS__), so
// the workbook and the alerts read the records the same way; tests/infra checks that every query parses and
// that every field it reads is one the app writes.

@description('Region of the workbook and the alert rules: the control region.')
param location string

@description('Tags applied to every resource here.')
param tags object

@description('Name of the Application Insights component holding the records.')
param applicationInsightsName string

@description('E-mail address notified by the action group. Empty: no receiver (the alerts still show in the portal).')
param alertEmail string

@description('A source with no successful sync for this many hours raises an alert; 0: no such alert.')
param syncStaleAfterHours int

@description('Source aliases expected to be synced on a schedule (the deployment\'s FERRY_SOURCE).')
param sources array

var runsKql = trim(loadTextContent('../monitoring/runs.kql'))
var workbookJson = replace(loadTextContent('../monitoring/workbook.json'), '__RUNS__', runsKql)
var copyFailedKql = replace(loadTextContent('../monitoring/alert-copy-failed.kql'), '__RUNS__', runsKql)
var replicaExpiringKql = replace(loadTextContent('../monitoring/alert-replica-expiring.kql'), '__RUNS__', runsKql)
var expectedSources = string(sources)
var syncStaleTemplate = replace(loadTextContent('../monitoring/alert-sync-stale.kql'), '__RUNS__', runsKql)
var syncStaleKql = replace(replace(syncStaleTemplate, '__MAX_AGE_HOURS__', string(syncStaleAfterHours)), '__SOURCES__', expectedSources)
var emailReceivers = empty(alertEmail) ? [] : [
  {
    name: 'operator'
    emailAddress: alertEmail
    useCommonAlertSchema: true
  }
]

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(applicationInsights.id, 'modelferry-runs-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'ModelFerry runs'
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: workbookJson
    version: '1.0'
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-modelferry-${uniqueString(applicationInsights.id)}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'modelferry'
    enabled: true
    emailReceivers: emailReceivers
  }
}

resource copyFailedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'modelferry-copy-failed'
  location: location
  tags: tags
  properties: {
    displayName: 'ModelFerry: a copy failed'
    description: 'A copy target ended failed. The records name the instance id, target, error code and hint; see the workbook\'s failures by error code.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: copyFailedKql
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource syncStaleAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = if (syncStaleAfterHours > 0) {
  name: 'modelferry-sync-stale'
  location: location
  tags: tags
  properties: {
    displayName: 'ModelFerry: no successful sync of a source'
    description: 'A source has had no successful sync within twice its schedule: its replicas are going stale. See the workbook\'s last successful sync per source.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'P2D'
    criteria: {
      allOf: [
        {
          query: syncStaleKql
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource replicaExpiringAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'modelferry-replica-expiring'
  location: location
  tags: tags
  properties: {
    displayName: 'ModelFerry: a replica expires within 30 days'
    description: 'The sync reported a replica whose expiration date is within 30 days: retrain or re-copy the model before it expires. See the workbook\'s expiring replicas.'
    severity: 3
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT12H'
    windowSize: 'P1D'
    criteria: {
      allOf: [
        {
          query: replicaExpiringKql
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output workbookId string = workbook.id
output actionGroupId string = actionGroup.id
