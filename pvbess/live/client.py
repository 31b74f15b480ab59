"""Home Assistant's REST API: states and service calls, with retries and clear errors.

Only the standard library (``urllib``): the live path adds no dependency. Endpoints used
(https://developers.home-assistant.io/docs/api/rest/): ``GET /api/`` (is the token valid),
``GET /api/states/<entity_id>``, ``POST /api/services/<domain>/<service>``, and for missed
periods the recorder's ``GET /api/history/period/<start>`` and ``GET /api/logbook/<start>``, each
with the header ``Authorization: Bearer <token>`` (a long-lived access token from the user's
profile).
"""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from ..timeseries import DataError

log = logging.getLogger("pvbess.live")

#: Answers that mean "Home Assistant is (re)starting or behind a proxy that lost it": retried.
RETRY_STATUS = frozenset({502, 503, 504})


class HomeAssistantError(RuntimeError):
    """Home Assistant did not do what was asked."""


class InvalidTokenError(HomeAssistantError):
    """Home Assistant refused the access token (401/403)."""


class UnreachableError(HomeAssistantError):
    """Home Assistant did not answer after every retry (down, restarting, wrong URL)."""


class EntityNotFoundError(DataError):
    """The configured entity does not exist in Home Assistant."""


class RestClient:
    """A thin client of Home Assistant's REST API.

    Parameters
    ----------
    url : str
        Base URL, e.g. ``http://homeassistant.local:8123``.
    token : str
        A long-lived access token.
    timeout_s : float
        Per request. [s]
    retries : int
        Further attempts after a connection failure or a 502/503/504. [-]
    backoff_s : float
        Wait before the first retry, doubled for each further one. [s]
    sleep : callable
        ``sleep(seconds)``; tests pass a recorder.
    """

    def __init__(self, url: str, token: str, *, timeout_s: float = 10.0, retries: int = 4,
                 backoff_s: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> None:
        if not token or not token.strip():
            raise InvalidTokenError("no Home Assistant access token given (create a long-lived "
                                    "token in the user's profile and pass it or its variable)")
        self.url = url.rstrip("/")
        self._token = token.strip()
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self._sleep = sleep
        #: Requests that found no Home Assistant after every retry (it may have restarted).
        self.unreachable = 0

    def _once(self, method: str, path: str, body: dict | None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self._token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")[:500]

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        """One call with retries; returns the decoded JSON answer.

        Raises
        ------
        InvalidTokenError
            401 or 403.
        UnreachableError
            No answer (or 502/503/504) after ``retries`` further attempts.
        HomeAssistantError
            Any other refusal (400, 500, ...), with Home Assistant's message.
        """
        failure = ""
        for attempt in range(self.retries + 1):
            if attempt:
                wait = self.backoff_s * 2 ** (attempt - 1)
                log.warning("Home Assistant %s %s: %s; retry %d/%d in %.1f s", method, path,
                            failure, attempt, self.retries, wait)
                self._sleep(wait)
            try:
                status, answer = self._once(method, path, body)
            except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as e:
                failure = f"no answer ({getattr(e, 'reason', e)})"
                continue
            if status in RETRY_STATUS:
                failure = f"HTTP {status}"
                continue
            if status in (401, 403):
                raise InvalidTokenError(
                    f"Home Assistant at {self.url} refused the access token (HTTP {status}): "
                    "create a long-lived access token in the user's profile (Security tab) "
                    "and configure it (home_assistant.token_env)")
            if status == 404:
                raise EntityNotFoundError(f"Home Assistant at {self.url}: {method} {path} not "
                                          f"found (HTTP 404): check the entity id ({answer})")
            if status >= 400:
                raise HomeAssistantError(f"Home Assistant at {self.url}: {method} {path} "
                                         f"refused (HTTP {status}): {answer}")
            return answer
        self.unreachable += 1
        raise UnreachableError(f"Home Assistant at {self.url} unreachable: {method} {path}: "
                               f"{failure} after {self.retries + 1} attempts")

    def check(self) -> None:
        """Raise :class:`InvalidTokenError` or :class:`UnreachableError` unless the API runs."""
        answer = self.request("GET", "/api/")
        if not isinstance(answer, dict) or "message" not in answer:
            raise HomeAssistantError(f"{self.url}/api/ does not look like Home Assistant: "
                                     f"{answer!r}")

    def state(self, entity_id: str) -> dict:
        """The state object of an entity (``state``, ``attributes``, ``last_updated``, ...)."""
        return self.request("GET", f"/api/states/{entity_id}")

    def call_service(self, domain: str, service: str, data: dict) -> Any:
        """``POST /api/services/<domain>/<service>`` with ``data`` (e.g. ``entity_id``)."""
        return self.request("POST", f"/api/services/{domain}/{service}", data)

    def history(self, entity_ids: list[str], start: Any, end: Any) -> dict[str, list[dict]]:
        """The recorder's states of ``entity_ids`` from ``start`` to ``end`` (aware datetimes):
        per entity, the state in force at ``start`` (its ``last_updated`` clamped to
        ``start``), then every change, oldest first. An entity without any is absent."""
        query = urllib.parse.urlencode({"filter_entity_id": ",".join(entity_ids),
                                        "end_time": end.isoformat(),
                                        "significant_changes_only": "0"})
        answer = self.request("GET", f"/api/history/period/"
                                     f"{urllib.parse.quote(start.isoformat())}?{query}")
        return {rows[0]["entity_id"]: rows for rows in answer or [] if rows}

    def logbook(self, start: Any, end: Any) -> list[dict]:
        """The logbook's entries from ``start`` to ``end`` (aware datetimes), oldest first."""
        query = urllib.parse.urlencode({"end_time": end.isoformat()})
        return self.request("GET", f"/api/logbook/{urllib.parse.quote(start.isoformat())}?"
                                   f"{query}") or []
