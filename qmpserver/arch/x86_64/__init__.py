"""x86_64 target: CPU models from the captured build and measured rules (issue 11)."""
