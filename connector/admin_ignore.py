"""The admin's Ignore… and Undo ignore pages for one document, and a flow's own document
actions (connector.flows.DocumentAction: send a corrected 810, send a held one anyway): a
reason form, then the service, the admin log and a message. Kept apart from
connector/admin.py so the document admin only names them."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.template.response import TemplateResponse
from django.urls import reverse

from .documents import IgnoreRefused, document_ignore, document_unignore
from .flows import ActionRefused, DocumentAction
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


def _reason_then(modeladmin, request, document: Document, form_class: type[forms.Form], service, *, title: str,
                 explanation: str, refused: str, done: str):
    """GET: the reason form. POST: the service, the admin log, a message, and back to the
    document (None)."""
    form = form_class(request.POST if request.method == "POST" else None)
    if request.method != "POST" or not form.is_valid():
        return _page(modeladmin, request, document, form, title=title, explanation=explanation, submit_label=title)
    reason = form.cleaned_data["reason"]
    try:
        service(document=document, user=request.user, reason=reason)
    except IgnoreRefused as exc:
        modeladmin.message_user(request, f"{refused}: {exc}", messages.WARNING)
        return None
    state = document.get_state_display().lower()
    modeladmin.log_change(request, document, f"{done}: {reason}" if reason else f"{done}; now {state}.")
    modeladmin.message_user(request, f"{document} is {state}.", messages.SUCCESS)
    return None


def document_ignore_view(modeladmin, request, document: Document):
    return _reason_then(modeladmin, request, document, IgnoreForm, document_ignore, title="Ignore document",
                        refused="Not ignored", done="Ignored",
                        explanation="An ignored document is neither retried nor replayed, and no cycle takes it up, "
                                    "until someone undoes it. Nothing already sent or posted is touched.")


def document_unignore_view(modeladmin, request, document: Document):
    return _reason_then(modeladmin, request, document, UnignoreForm, document_unignore, title="Undo ignore",
                        refused="Not changed", done="Ignore undone",
                        explanation="The document goes back to the state it was ignored from; a replay or the next "
                                    "cycle then resumes it at its step.")


class ActionForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=2000, strip=True,
                             help_text="Why (kept in the audit trail).")


def document_action_view(modeladmin, request, document: Document, action: DocumentAction):
    """GET: the reason form. POST: the flow's service, the admin log, its message; then back to
    the document (None)."""
    form = ActionForm(request.POST if request.method == "POST" else None)
    if request.method != "POST" or not form.is_valid():
        return _page(modeladmin, request, document, form, title=action.label, explanation=action.explanation,
                     submit_label=action.label)
    reason = form.cleaned_data["reason"]
    try:
        said = action.run(document=document, user=request.user, reason=reason)
    except ActionRefused as exc:
        modeladmin.message_user(request, f"{action.label}: not done: {exc}", messages.WARNING)
        return None
    modeladmin.log_change(request, document, f"{action.label}: {reason}")
    modeladmin.message_user(request, said, messages.SUCCESS)
    return None
