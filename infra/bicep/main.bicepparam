// Example parameters: copy, edit, then
//   az deployment group create -g rg-snatguard -f infra/bicep/main.bicep -p infra/bicep/main.bicepparam
using './main.bicep'

param clusterResourceGroup = 'rg-aks-prod'
param clusterName = 'aks-prod'
param nodeResourceGroup = 'MC_rg-aks-prod_aks-prod_westeurope'

// Every 5 minutes (NCRONTAB, six fields, UTC).
param schedule = '0 */5 * * * *'

// Start in dry-run; switch to 'restart' once the reports look right.
param mode = 'dry-run'
param maxRestartsPerRun = 1
param cooldownMinutes = 60

// Webhook URLs are secrets: pass them from the environment, never commit them.
param slackWebhookUrl = readEnvironmentVariable('SNATGUARD_NOTIFY_SLACK_WEBHOOK_URL', '')
param teamsWebhookUrl = readEnvironmentVariable('SNATGUARD_NOTIFY_TEAMS_WEBHOOK_URL', '')
