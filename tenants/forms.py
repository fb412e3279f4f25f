"""Connection forms whose secret inputs are write-only.

A stored secret is never rendered, not even masked: the input is always empty, says
whether a value is stored, and an empty submission keeps the stored value. Changing a
credential drops the cached tokens so the next call logs in with the new one.
"""
from __future__ import annotations

from django import forms


class WriteOnlyPasswordInput(forms.PasswordInput):
    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False)


class ConnectionForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model = self._meta.model
        for name in model.SECRET_FIELDS:
            stored = bool(getattr(self.instance, name, "")) if self.instance.pk else False
            widget = WriteOnlyPasswordInput()
            widget.attrs["placeholder"] = "stored — leave empty to keep" if stored else "not set"
            self.fields[name] = forms.CharField(
                required=False, strip=True, widget=widget, label=model._meta.get_field(name).verbose_name.capitalize(),
                help_text="A value is stored; type a new one to replace it." if stored else "No value stored yet.",
            )
            self.initial[name] = ""

    def clean(self):
        cleaned = super().clean()
        self.changed_secrets = []
        for name in self._meta.model.SECRET_FIELDS:
            if cleaned.get(name):
                self.changed_secrets.append(name)
            else:
                cleaned[name] = getattr(self.instance, name, "") if self.instance.pk else ""
        return cleaned

    def save(self, commit: bool = True):
        instance = super().save(commit=False)
        if getattr(self, "changed_secrets", None):
            for token_field in instance.TOKEN_FIELDS:
                setattr(instance, token_field, "")
            if hasattr(instance, "token_expires_at"):
                instance.token_expires_at = None
        if commit:
            instance.save()
        return instance
