"""End users' passwords: Argon2 through Django's hasher, Django's validators.

Django's default Argon2 parameters take 100 MiB and ~200 ms per hash, for console logins
on a trusted few; app logins arrive many at a time from the internet, where that memory
per concurrent login is a denial of service. End users get Argon2id at the OWASP
parameters (19 MiB, 2 passes, 1 lane) by default, set from the environment. The
parameters live in each hash, so a change applies to new hashes and old ones verify.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, check_password, make_password
from django.contrib.auth.password_validation import get_default_password_validators
from django.core.exceptions import ValidationError

from baas.api.errors import InvalidArgument

MAX_PASSWORD_LENGTH = 256


class EndUserArgon2Hasher(Argon2PasswordHasher):
    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return int(settings.BAAS_AUTH_ARGON2_TIME_COST)

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return int(settings.BAAS_AUTH_ARGON2_MEMORY_KIB)

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return int(settings.BAAS_AUTH_ARGON2_PARALLELISM)


_hasher = EndUserArgon2Hasher()


def password_check_new(password: Any, *, user: Any = None, field: str = "password") -> str:
    """A new password: a string within bounds that passes Django's validators (minimum
    length, common passwords, ...)."""
    if not isinstance(password, str) or not password:
        raise InvalidArgument(f"'{field}' is required.", details={"field": field})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidArgument(f"'{field}' is longer than {MAX_PASSWORD_LENGTH} characters.", details={"field": field})
    errors: list[str] = []
    for validator in get_default_password_validators():
        try:
            validator.validate(password, user)
        except ValidationError as error:
            errors.extend(error.messages)
    if errors:
        raise InvalidArgument(" ".join(errors), details={"field": field, "errors": errors})
    return password


def password_hash(password: str) -> str:
    return make_password(password, hasher=_hasher)


def password_matches(password: Any, encoded: str) -> bool:
    """Constant work whether or not there is a hash: a missing user costs what a wrong
    password costs, so timing does not tell which it was."""
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        password = ""
    if not encoded:
        check_password(password, _dummy_hash(), preferred=_hasher)
        return False
    return check_password(password, encoded, preferred=_hasher)


@functools.cache
def _dummy_hash_for(params: tuple[int, int, int]) -> str:
    return make_password("dummy password for timing", hasher=_hasher)


def _dummy_hash() -> str:
    return _dummy_hash_for((_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism))
