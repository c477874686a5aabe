"""Training: assigner, losses, teacher and distillation runs, EMA, schedules, checkpoints."""
