"""The admin's Ignore… and Undo ignore pages for one document: a reason form, then the
engine's service (connector.documents), the admin log and a message. Kept apart from
connector/admin.py so the document admin only names the two actions."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.template.response import TemplateResponse
from django.urls import reverse

from .documents import IgnoreRefused, document_ignore, document_unignore
from .models import Document


class IgnoreForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=2000, strip=True,
                             help_text="Why nobody should act on this document (kept in the audit trail).")


class UnignoreForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 80}), max_length=2000, strip=True,
                             required=False, help_text="Optional: why it matters again.")


def _page(modeladmin, request, document: Document, form: forms.Form, *, title: str, explanation: str,
          submit_label: str) -> TemplateResponse:
    context = {**modeladmin.admin_site.each_context(request), "opts": modeladmin.model._meta, "title": title,
               "document": document, "form": form, "explanation": explanation, "submit_label": submit_label,
               "back_url": reverse("admin:connector_document_change", args=[document.pk])}
    return TemplateResponse(request, "admin/connector/document/ignore.html", context)


def document_ignore_view(modeladmin, request, document: Document):
    """GET: the reason form. POST: ignore, log, and back to the document (None)."""
    form = IgnoreForm(request.POST if request.method == "POST" else None)
    if not form.is_valid():
        return _page(modeladmin, request, document, form, title="Ignore document", submit_label="Ignore it",
                     explanation="An ignored document is neither retried nor replayed, and no cycle takes it up, "
                                 "until someone undoes it. Nothing already sent or posted is touched.")
    try:
        document_ignore(document=document, user=request.user, reason=form.cleaned_data["reason"])
    except IgnoreRefused as exc:
        modeladmin.message_user(request, f"Not ignored: {exc}", messages.WARNING)
        return None
    modeladmin.log_change(request, document, f"Ignored: {form.cleaned_data['reason']}")
    modeladmin.message_user(request, f"{document} is ignored.", messages.SUCCESS)
    return None


def document_unignore_view(modeladmin, request, document: Document):
    """GET: confirm, with an optional reason. POST: undo the ignore, log, and back."""
    form = UnignoreForm(request.POST if request.method == "POST" else None)
    if request.method != "POST" or not form.is_valid():
        return _page(modeladmin, request, document, form, title="Undo ignore", submit_label="Undo ignore",
                     explanation="The document goes back to the state it was ignored from; a replay or the next "
                                 "cycle then resumes it at its step.")
    try:
        document_unignore(document=document, user=request.user, reason=form.cleaned_data["reason"])
    except IgnoreRefused as exc:
        modeladmin.message_user(request, f"Not changed: {exc}", messages.WARNING)
        return None
    modeladmin.log_change(request, document, f"Ignore undone; now {document.get_state_display().lower()}.")
    modeladmin.message_user(request, f"{document} is {document.get_state_display().lower()} again.", messages.SUCCESS)
    return None
