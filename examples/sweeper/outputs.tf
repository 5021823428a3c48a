output "function_name" {
  description = "The sweeper function; `aws lambda invoke --function-name jit-sweeper --payload '{}' out.json` runs it now."
  value       = aws_lambda_function.sweeper.function_name
}

output "log_group" {
  description = "Where each sweep logs what it removed, left alone or could not remove."
  value       = aws_cloudwatch_log_group.sweeper.name
}
