import json

from django.core.management.base import BaseCommand

from billing.selectors import wallet_discrepancies


class Command(BaseCommand):
    help = ("Recompute every wallet from its ledger entries and open reservations; report any "
            "difference. Exits 1 when one is found.")

    def handle(self, *args, **options):
        problems = wallet_discrepancies()
        for problem in problems:
            self.stdout.write(json.dumps(problem))
        if problems:
            self.stderr.write(f"{len(problems)} wallet(s) disagree with their ledger.")
            raise SystemExit(1)
        self.stdout.write("reconcile: every wallet matches its ledger.")
