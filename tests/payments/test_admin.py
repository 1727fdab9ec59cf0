"""Staff edit packs and bonus rules, and find flagged organizations, in the admin."""

from accounts.models import User
from billing.payments.models import BonusRule


def test_staff_edit_bonus_rules_and_see_payment_pages(client, db):
    staff = User.objects.create_superuser(email="staff@atelier.test", password="x" * 12)
    client.force_login(staff)
    for page in ["creditpack", "bonusrule", "payment", "paymentaccount", "stripeevent"]:
        assert client.get(f"/admin/payments/{page}/").status_code == 200, page
    assert client.get("/admin/payments/paymentaccount/?flagged_at__isnull=False").status_code == 200

    response = client.post("/admin/payments/bonusrule/add/",
                           {"min_amount": 500_000_000, "bonus_bp": 1500, "active": "on"})

    assert response.status_code == 302
    assert BonusRule.objects.filter(min_amount=500_000_000, bonus_bp=1500).exists()
