"""Native money API: wallet, ledger (pages and CSV), usage, prices, quotes and promo codes.
Thin views: validate, call one selector or service, render."""

import csv

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from accounts.tenancy import tenant_of
from billing import selectors, statements
from billing.money import format_usd, money
from billing.promos import promo_redeem
from billing.quotes import generation_quote
from billing.schema import LedgerOut, WalletOut
from generation import catalog


class WalletView(APIView):
    @extend_schema(responses=WalletOut, tags=["billing"])
    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        wallet = selectors.wallet_of(organization=tenant.organization)
        return Response({
            "object": "wallet",
            "organization": str(tenant.organization.pk),
            "balance": money(wallet.balance),
            "reserved": money(wallet.reserved),
            "available": money(wallet.available),
        })


def entry_data(entry) -> dict:
    return {
        "id": entry.pk,
        "object": "ledger_entry",
        "kind": entry.kind,
        "amount": money(entry.amount),
        "balance_after": money(entry.balance_after),
        "reference": entry.reference,
        "brand": str(entry.brand_id) if entry.brand_id else None,
        "api_key": entry.api_key.prefix if entry.api_key_id else None,
        "actor": entry.actor.email if entry.actor_id else None,
        "memo": entry.memo,
        "created_at": entry.created_at.isoformat(),
    }


class LedgerView(APIView):
    """Newest first. `?brand=&kind=&since=&until=&limit=&cursor=`; follow `next_cursor`."""

    @extend_schema(responses=LedgerOut, tags=["billing"])
    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        filters = statements.ledger_filter_from(tenant, request.query_params)
        entries, next_cursor = statements.ledger_page(
            tenant=tenant, filters=filters, cursor=request.query_params.get("cursor"),
            limit=statements.page_limit(request.query_params.get("limit")))
        return Response({"object": "list", "data": [entry_data(entry) for entry in entries],
                         "has_more": next_cursor is not None, "next_cursor": next_cursor})


def text_cell(value) -> str:
    """Customer-controlled text (brand names, memos) must not run as a spreadsheet formula."""
    text = str(value or "")
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


def csv_response(filename: str, header: list[str], rows) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in _with_header(header, rows))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _with_header(header, rows):
    yield header
    yield from rows


class LedgerCsvView(APIView):
    """The whole filtered ledger as CSV, streamed (no pagination)."""

    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        filters = statements.ledger_filter_from(tenant, request.query_params)
        entries = statements.ledger_entries(tenant=tenant, filters=filters)
        header = ["id", "created_at", "kind", "amount_usd", "amount_micros",
                  "balance_after_usd", "balance_after_micros", "brand_id", "brand",
                  "api_key", "reference", "memo"]
        rows = ([entry.pk, entry.created_at.isoformat(), entry.kind, format_usd(entry.amount),
                 entry.amount, format_usd(entry.balance_after), entry.balance_after,
                 entry.brand_id or "", text_cell(entry.brand.name if entry.brand_id else ""),
                 entry.api_key.prefix if entry.api_key_id else "", text_cell(entry.reference),
                 text_cell(entry.memo)]
                for entry in entries.iterator(chunk_size=1000))
        return csv_response(f"ledger-{tenant.organization.slug}.csv", header, rows)


def _usage_query(request):
    tenant = tenant_of(request)
    tenant.require(Scope.READ)
    params = request.query_params
    groups = statements.usage_groups_from(params.get("group_by"))
    rows = statements.usage_rows(
        tenant=tenant, brand=statements.brand_filter_of(tenant, params.get("brand")),
        since=statements.parse_instant(params.get("since"), param="since"),
        until=statements.parse_instant(params.get("until"), param="until"), groups=groups)
    return tenant, groups, rows


def usage_row_data(row: dict, groups) -> dict:
    data = {}
    if "day" in groups:
        data["day"] = row["day"].isoformat()
    if "brand" in groups:
        data["brand"] = ({"id": str(row["job__brand_id"]), "name": row["job__brand__name"]}
                         if row["job__brand_id"] else None)
    if "key" in groups:
        data["api_key"] = ({"id": str(row["job__api_key_id"]), "name": row["job__api_key__name"],
                            "prefix": row["job__api_key__prefix"]}
                           if row["job__api_key_id"] else None)
    if "model" in groups:
        data["model"] = row["job__model"]
    if "tier" in groups:
        data["image_size"] = row["job__tier"]
    data["images"] = row["images"]
    data["amount"] = money(row["amount"])
    return data


class UsageView(APIView):
    """Charged generations grouped by `group_by` (default day,brand,key,model,tier) between
    `since` (default: start of this month) and `until`."""

    def get(self, request):
        _, groups, rows = _usage_query(request)
        data = [usage_row_data(row, groups) for row in rows]
        return Response({
            "object": "usage", "group_by": list(groups), "data": data,
            "total": {"images": sum(row["images"] for row in rows),
                      "amount": money(sum(row["amount"] for row in rows))},
        })


class UsageCsvView(APIView):
    def get(self, request):
        tenant, groups, rows = _usage_query(request)
        header = [*(["day"] if "day" in groups else []),
                  *(["brand_id", "brand"] if "brand" in groups else []),
                  *(["api_key", "api_key_name"] if "key" in groups else []),
                  *(["model"] if "model" in groups else []),
                  *(["image_size"] if "tier" in groups else []),
                  "images", "amount_usd", "amount_micros"]

        def cells(row):
            data = usage_row_data(row, groups)
            out = []
            if "day" in groups:
                out.append(data["day"])
            if "brand" in groups:
                brand = data["brand"]
                out += [brand["id"], text_cell(brand["name"])] if brand else ["", ""]
            if "key" in groups:
                key = data["api_key"]
                out += [key["prefix"], text_cell(key["name"])] if key else ["", ""]
            if "model" in groups:
                out.append(data["model"])
            if "tier" in groups:
                out.append(data["image_size"])
            return [*out, row["images"], format_usd(row["amount"]), row["amount"]]

        return csv_response(f"usage-{tenant.organization.slug}.csv", header,
                            (cells(row) for row in rows))


class PricesView(APIView):
    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        prices = selectors.effective_prices(organization=tenant.organization)
        price_list = prices["price_list"]
        return Response({
            "object": "price_list",
            "price_list": {"id": price_list.pk, "name": price_list.name,
                           "effective_at": price_list.effective_at.isoformat()},
            "currency": "usd",
            "discount_bps": prices["discount_bps"],
            "data": [{"model": item["model"], "image_size": item["tier"],
                      "unit_price": money(item["unit_price"]),
                      "list_price": money(item["list_price"]), "source": item["source"]}
                     for item in prices["items"]],
            "surcharges": {name: {"unit_price": money(surcharge["unit_price"]),
                                  "list_price": money(surcharge["list_price"])}
                           for name, surcharge in prices["surcharges"].items()},
        })


class QuoteSerializer(serializers.Serializer):
    model = serializers.CharField(default=catalog.PRO)
    prompt = serializers.CharField(trim_whitespace=True)
    image_size = serializers.CharField(required=False, allow_null=True)
    aspect_ratio = serializers.CharField(required=False, allow_null=True)
    grounding = serializers.BooleanField(default=False)
    reference_images = serializers.IntegerField(default=0, min_value=0, max_value=100)


class QuoteView(APIView):
    def post(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        serializer = QuoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = generation_quote(
            organization=tenant.organization, model=data["model"], prompt=data["prompt"],
            image_size=data.get("image_size"), aspect_ratio=data.get("aspect_ratio"),
            grounding=data["grounding"], reference_images=data["reference_images"])
        quote = result.quote
        wallet = selectors.wallet_of(organization=tenant.organization)
        return Response({
            "object": "quote",
            "model": quote.model,
            "image_size": result.tier,
            "aspect_ratio": result.aspect_ratio,
            "width": result.width,
            "height": result.height,
            "price_list": quote.price_list_id,
            "discount_bps": quote.discount_bps,
            "total": money(quote.total),
            "list_total": money(quote.list_total),
            "lines": [{"item": line.item, "quantity": line.quantity,
                       "unit_price": money(line.unit_price),
                       "list_unit_price": money(line.list_unit_price
                                                if line.list_unit_price is not None
                                                else line.unit_price),
                       "amount": money(line.amount)} for line in quote.lines],
            "available": money(wallet.available),
            "affordable": quote.total <= wallet.available,
        })


class PromoRedeemSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40, trim_whitespace=True)


class PromoRedeemView(APIView):
    def post(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.BILLING)
        serializer = PromoRedeemSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        actor = tenant.user or (tenant.api_key.created_by if tenant.api_key else None)
        redemption = promo_redeem(organization=tenant.organization,
                                  code=serializer.validated_data["code"], actor=actor)
        wallet = selectors.wallet_of(organization=tenant.organization)
        return Response({
            "object": "promo_redemption",
            "code": redemption.promo.code,
            "amount": money(redemption.entry.amount),
            "entry": entry_data(redemption.entry),
            "wallet": {"balance": money(wallet.balance), "available": money(wallet.available)},
            "redeemed_at": redemption.created_at.isoformat(),
        }, status=status.HTTP_201_CREATED)
