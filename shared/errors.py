"""Errors a user can cause. Each carries an HTTP status, a machine code and a Russian message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DomainError(Exception):
    code: str
    message: str
    status: int = 400
    details: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            body["details"] = self.details
        return body


def not_found(what: str, code: str = "NOT_FOUND") -> DomainError:
    return DomainError(code, f"{what} не найден(а)", 404)


def forbidden(message: str = "Недостаточно прав для этого действия") -> DomainError:
    return DomainError("FORBIDDEN", message, 403)


def conflict(code: str, message: str) -> DomainError:
    return DomainError(code, message, 409)
