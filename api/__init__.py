"""What every HTTP handler shares: caller identity, request parsing, responses, errors."""
