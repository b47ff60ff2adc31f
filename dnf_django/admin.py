"""Read-only admin for what the workers maintain; failures can be retried from the list."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from dnf_core.sqlfiles import load_sql
from dnf_django.admin_pages import FeedPreviewAdmin, StatusAdmin
from dnf_django.models import Failure, FeedItemStat, FeedPreview, Status, UserFeedProfile

admin.site.register(Status, StatusAdmin)
admin.site.register(FeedPreview, FeedPreviewAdmin)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The workers own these rows; editing them by hand would be overwritten or lie."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UserFeedProfile)
class UserFeedProfileAdmin(ReadOnlyAdmin):
    list_display = ("user", "feed_id", "updated_at", "preview")
    list_filter = ("feed_id",)
    search_fields = ("user__username",)
    exclude = ("embedding",)

    @admin.display(description="feed")
    def preview(self, profile: UserFeedProfile) -> str:
        query = urlencode({"feed": profile.feed_id, "user": profile.user.get_username()})
        url = f"{reverse('admin:dnf_django_feedpreview_changelist')}?{query}"
        return format_html('<a href="{}">preview</a>', url)


@admin.register(FeedItemStat)
class FeedItemStatAdmin(ReadOnlyAdmin):
    list_display = ("feed_id", "item_key", "interactions", "updated_at")
    list_filter = ("feed_id",)
    ordering = ("-interactions",)


@admin.register(Failure)
class FailureAdmin(ReadOnlyAdmin):
    list_display = ("feed_id", "task", "key", "attempts", "last_failed_at", "short_error")
    list_filter = ("feed_id", "task")
    search_fields = ("key", "error")
    actions = ("retry",)

    @admin.display(description="error")
    def short_error(self, failure: Failure) -> str:
        return failure.error.strip().splitlines()[-1][:120] if failure.error.strip() else ""

    @admin.action(description="Retry the selected failures")
    def retry(self, request: HttpRequest, queryset: QuerySet[Failure]) -> None:
        # The same path as dnf_retry_failed: back through the outbox.
        ids = list(queryset.values_list("pk", flat=True))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                load_sql("queries/failures_requeue"), {"feed_id": None, "task": None, "ids": ids}
            )
            (count, _) = cursor.fetchone()
        self.message_user(request, f"re-enqueued {count} failure(s)", messages.SUCCESS)
