"""One exception type per way a call can fail, each with a message that says what to do."""

from __future__ import annotations


class ContractNetError(Exception):
    """The base of every error this package raises."""


class ConfigurationError(ContractNetError, ValueError):
    """An agent was declared or started with an option that cannot work (the message names it)."""


class ManagerUnreachable(ContractNetError):
    """The manager could not be reached at all: nothing listens there, or the network is down."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach the manager at {url} ({reason}); check that it runs and that the URL is right"
        )
        self.url = url
        self.reason = reason


class ManagerError(ContractNetError):
    """The manager answered with an error: `status`, its protocol `code` and its message."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []

    @property
    def retryable(self) -> bool:
        """Worth another try: the manager is overloaded or restarting, not saying no."""
        return self.status >= 500 or self.status == 429


class InvalidRequest(ManagerError):
    """400, 413, 415 or 422: what was sent is not acceptable; `details` names each field."""


class NotAuthorized(ManagerError):
    """401 or 403: no credentials, wrong ones, or the resource is not yours."""


class NotFound(ManagerError):
    """404: no such task or agent (or not visible to these credentials)."""


class Conflict(ManagerError):
    """409: the request conflicts with the current state; `code` says which."""


class StaleAward(Conflict):
    """409 stale_award: the award is no longer the task's (expired, cancelled or moved): stop."""


class RateLimited(ManagerError):
    """429: a limit was reached; `retry_after` says how many seconds to wait."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class ManagerUnavailable(ManagerError):
    """5xx: the manager or its database is failing; send the same request again later."""


class NameTaken(ContractNetError):
    """The agent's name belongs to a live agent whose token this agent does not have."""


class WorkCancelled(ContractNetError):
    """The manager cancelled the award being worked on (raised by `ctx.raise_if_cancelled()`)."""


class SubtaskFailed(ContractNetError):
    """A subcontracted task ended failed or cancelled; `state` and `error` say how."""

    def __init__(self, task_id: str, capability: str, state: str, error: dict[str, object] | None) -> None:
        why = f": {error.get('code')}: {error.get('message')}" if error else ""
        super().__init__(f"subtask {task_id} ({capability}) {state}{why}")
        self.task_id = task_id
        self.capability = capability
        self.state = state
        self.error = error


def manager_error(status: int, code: str, message: str, details: list[dict[str, str]] | None = None,
                  retry_after: float | None = None) -> ManagerError:
    """The exception for an error answer, by its status and code."""
    if status == 409 and code == "stale_award":
        return StaleAward(status, code, message, details)
    if status == 409:
        return Conflict(status, code, message, details)
    if status == 429:
        return RateLimited(status, code, message, retry_after)
    if status >= 500:
        return ManagerUnavailable(status, code, message, details)
    if status in (401, 403):
        return NotAuthorized(status, code, message, details)
    if status == 404:
        return NotFound(status, code, message, details)
    if status in (400, 413, 415, 422):
        return InvalidRequest(status, code, message, details)
    return ManagerError(status, code, message, details)
