"""Connection forms whose secret inputs are write-only.

A stored secret is never rendered, not even masked: the input is always empty, says
whether a value is stored, and an empty submission keeps the stored value. Changing a
credential drops the cached tokens so the next call logs in with the new one.

Keeping the stored value is only safe while the connection points where it did: a stored
password kept across a change of base URL would be sent, at the next test or cycle, to a
host it was never entered for. So changing where or as whom a connection logs in
(`DESTINATION_FIELDS`) requires every stored secret to be entered again, and drops the
cached tokens and the last test result, which belonged to the old destination.
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
        model = self._meta.model
        self.changed_secrets = []
        self.moved = [name for name in model.DESTINATION_FIELDS if name in self.changed_data] if self.instance.pk else []
        for name in model.SECRET_FIELDS:
            if cleaned.get(name):
                self.changed_secrets.append(name)
                continue
            stored = getattr(self.instance, name, "") if self.instance.pk else ""
            if stored and self.moved:
                changed = ", ".join(str(self.fields[field].label).lower() for field in self.moved)
                self.add_error(name, f"Enter the {str(self.fields[name].label).lower()} again: the {changed} changed, "
                                     "and a stored secret is never sent where it was not entered for.")
            else:
                cleaned[name] = stored
        return cleaned

    def save(self, commit: bool = True):
        instance = super().save(commit=False)
        if getattr(self, "changed_secrets", None) or getattr(self, "moved", None):
            for token_field in instance.TOKEN_FIELDS:
                setattr(instance, token_field, "")
            if hasattr(instance, "token_expires_at"):
                instance.token_expires_at = None
        if getattr(self, "moved", None):
            instance.last_tested_at, instance.last_test_result = None, ""
        if commit:
            instance.save()
        return instance
