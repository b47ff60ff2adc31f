"""Admin pages that are not model lists: the pipeline status and the feed preview.

Each hangs off a table-less model (``dnf_django.models.Status``, ``FeedPreview``) so it
appears under "Neural feed" in the admin index of the default site, with a view
permission of its own; the page replaces the model's changelist URL. Both are
read-only, for staff users holding that permission (superusers do).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse

from dnf_django.previews import FeedPreviewForm, feed_preview
from dnf_django.query import SIGNALS
from dnf_django.status import pipeline_status


class PageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """One read-only page in place of a model's changelist."""

    template_name: str = ""

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.page), name=name)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def page(self, request: HttpRequest) -> TemplateResponse:
        # admin_view has already sent anyone who is not active staff to the login page.
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            **self.page_context(request),
        }
        return TemplateResponse(request, self.template_name, context)

    def page_context(self, request: HttpRequest) -> dict[str, Any]:
        """What the page's template shows."""
        raise NotImplementedError


class StatusAdmin(PageAdmin):
    """The numbers of ``dnf_status``, per feed, computed once per page view."""

    template_name = "admin/dnf_django/status.html"

    def page_context(self, request: HttpRequest) -> dict[str, Any]:
        return {"title": "Pipeline status", "status": pipeline_status()}


class FeedPreviewAdmin(PageAdmin):
    """Pick a feed and a user; see their feed as ``get_feed`` ranks it, item by item."""

    template_name = "admin/dnf_django/feed_preview.html"

    def page_context(self, request: HttpRequest) -> dict[str, Any]:
        form = FeedPreviewForm(request.GET or None)
        preview = None
        if form.is_valid():
            data = form.cleaned_data
            preview = feed_preview(data["feed"], data["user"], data["limit"])
        rows = preview.rows if preview else ()
        return {
            "title": "Feed preview",
            "form": form,
            "preview": preview,
            "feed_id": preview.feed.get_setting("feed_id") if preview else None,
            # The feed's weights, as explain() reports them (the same for every row).
            "weights": [(name, rows[0].explanation.weights[name]) for name in SIGNALS]
            if rows
            else [],
            "has_profile": rows[0].explanation.has_profile if rows else None,
            "rows": [
                {
                    "rank": row.rank,
                    "item": row.item,
                    "key": row.explanation.item_key,
                    "url": _change_url(row.item),
                    "parts": [
                        (
                            row.explanation.signals[name],
                            row.explanation.weights[name],
                            row.explanation.contributions[name],
                        )
                        for name in SIGNALS
                    ],
                    "score": row.explanation.score,
                }
                for row in rows
            ],
        }


def _change_url(item: Any) -> str | None:
    """The item's admin page, when its model is in the admin."""
    try:
        return reverse(
            f"admin:{item._meta.app_label}_{item._meta.model_name}_change", args=[item.pk]
        )
    except NoReverseMatch:
        return None
