"""Per-user code-server sessions on ECS Fargate: API resolver, task-state handler and reaper."""
