"""Shared plumbing that is not a domain: errors, API conventions, health, schedules, batching."""
