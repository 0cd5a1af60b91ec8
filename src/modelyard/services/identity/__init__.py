"""Identity: users, groups and memberships, API tokens, password and token secrets, and the
authentication of requests (with its short-lived cache).

Exports ``IdentityService``, the one identity service the rest of modelyard uses, put together from
``auth``, ``users``, ``tokens`` and ``groups``; ``secrets`` hashes and checks passwords and tokens.
Every other subsystem may depend on identity; identity depends only on ``audit`` and ``common``.
"""

from modelyard.services.identity.service import Group, IdentityService, Token, User

__all__ = ["Group", "IdentityService", "Token", "User"]
