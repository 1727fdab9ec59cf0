"""Response shapes of the wallet and ledger endpoints, for the OpenAPI schema only."""

from rest_framework import serializers


class MoneyOut(serializers.Serializer):
    micros = serializers.IntegerField(help_text="micro-USD (1 USD = 1,000,000)")
    usd = serializers.CharField()


class WalletOut(serializers.Serializer):
    object = serializers.CharField(default="wallet")
    organization = serializers.UUIDField()
    balance = MoneyOut()
    reserved = MoneyOut()
    available = MoneyOut()


class LedgerEntryOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = MoneyOut()
    balance_after = MoneyOut()
    reference = serializers.CharField()
    brand = serializers.UUIDField(allow_null=True)
    memo = serializers.CharField()
    created_at = serializers.DateTimeField()


class LedgerOut(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = LedgerEntryOut(many=True)
