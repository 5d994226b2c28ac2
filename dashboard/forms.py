"""Forms for console accounts; every field has a label for screen readers."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm


class SignupForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not all digits, not a common password.",
    )

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        User = get_user_model()
        if User.objects.filter(email__iexact=email).exists() or User.objects.filter(username__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists. Log in instead.")
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("email") and cleaned.get("password"):
            user = get_user_model()(username=cleaned["email"], email=cleaned["email"])
            try:
                password_validation.validate_password(cleaned["password"], user)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class EmailLoginForm(AuthenticationForm):
    """Console users sign in with their email (or their username)."""

    username = forms.CharField(label="Email", max_length=254, widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "email"}))

    def clean(self) -> dict[str, Any]:
        entered = self.cleaned_data.get("username") or ""
        if "@" in entered:
            user = get_user_model().objects.filter(email__iexact=entered).order_by("pk").first()
            if user is not None:
                self.cleaned_data["username"] = user.get_username()
        return super().clean()
