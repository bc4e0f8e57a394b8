"""Show the webhooks work queue: what is due, retrying, failed, and each provider's breaker."""

from django.core.management.base import BaseCommand

from webhooks.selectors import queue_state_get


class Command(BaseCommand):
    help = "Print the work queue: fetches and deliveries due or retrying, failures, breakers."

    def handle(self, *args, **options) -> None:
        state = queue_state_get()
        lines = [
            "requests: " + ", ".join(f"{k} {v}" for k, v in state.requests_by_status.items()),
            f"fetches: due {state.fetches_due}, retrying {state.fetches_retrying}",
            f"deliveries: due {state.deliveries_due}, retrying {state.deliveries_retrying}, "
            f"failed {state.deliveries_failed}",
        ]
        for breaker in state.breakers:
            until = breaker.open_until.isoformat() if breaker.open_until else "-"
            lines.append(
                f"breaker {breaker.provider}: {breaker.state}, "
                f"{breaker.consecutive_failures} consecutive failures, open until {until}"
            )
        if not state.breakers:
            lines.append("breakers: none yet (every provider closed)")
        self.stdout.write("\n".join(lines))
