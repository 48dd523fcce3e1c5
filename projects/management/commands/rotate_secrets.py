"""``manage.py rotate_secrets``: re-encrypt every stored secret with the first key.

Rotation: put a new key first in ``FIELD_ENCRYPTION_KEYS`` (keep the old ones after it), run
this, then remove the old keys. Each row is rewritten with a conditional UPDATE (only if its
token is still the one read), so a password typed meanwhile is never overwritten; ``updated_at``
is left alone, rotation is no edit of the project.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from launchready import crypto


class Command(BaseCommand):
    help = "Re-encrypt every stored secret (SMTP passwords) with the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        rotated, unreadable = 0, []
        for label, field in crypto.ENCRYPTED_FIELDS:
            model = apps.get_model(label)
            rows = model.objects.exclude(**{field: ""}).values_list("pk", field).order_by("pk")
            for pk, token in rows.iterator():
                try:
                    fresh = crypto.rotate(token)
                except crypto.SecretDecryptionError:
                    unreadable.append(f"{label} {pk}")  # the row's id only: never the token
                    continue
                rotated += model.objects.filter(pk=pk, **{field: token}).update(**{field: fresh})
        self.stdout.write(f"Re-encrypted {rotated} secret{'s' if rotated != 1 else ''} with the first key.")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} stored secret(s) could not be decrypted with any key and were left as "
                f"they were ({', '.join(unreadable)}): put the key they were encrypted with back in "
                "FIELD_ENCRYPTION_KEYS, or have them typed again"
            )
