output "function_name" {
  value = aws_lambda_function.this.function_name
}

output "lambda_role_arn" {
  description = "The principal of the EKS access entry (Kubernetes group snatguard)."
  value       = aws_iam_role.lambda.arn
}

output "notify_secret_arn" {
  description = "Put the webhook JSON here with aws secretsmanager put-secret-value (infra/README.md)."
  value       = aws_secretsmanager_secret.notify.arn
}

output "log_group_name" {
  value = aws_cloudwatch_log_group.this.name
}

output "schedule_name" {
  value = aws_scheduler_schedule.this.name
}

output "kubernetes_setup_commands" {
  description = "Run once against the cluster: the namespace, rbac.yaml and snatguard's node probe (the conntrack reader). Not applied by Terraform, which holds no Kubernetes credentials."
  value = [
    "kubectl apply -f infra/kubernetes/namespace.yaml -f infra/kubernetes/rbac.yaml -f infra/kubernetes/node-probe.yaml",
  ]
}
