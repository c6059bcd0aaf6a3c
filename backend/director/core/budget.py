"""Budgets, checked before every model call against the totals in the database.

Totals live in the database (``usage_totals``), so every server process sharing it sees the same
spend: a budget holds across processes. A call is refused when it would *start* with a budget
already used up; the call that crosses the line is allowed to finish (its cost is known only after).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from director.db.usage_statements import utc_day
from director.errors import BudgetExceededError, UnpricedModelError
from director.settings import DirectorSettings

SESSION_SETTING = "DIRECTOR_SESSION_BUDGET_USD"
DAILY_SETTING = "DIRECTOR_DAILY_BUDGET_USD"


class BudgetSettings(DirectorSettings):
    model_config = SettingsConfigDict(env_prefix="DIRECTOR_")

    session_budget_usd: float | None = Field(None, gt=0, description="US dollars per chat; unset: no limit")
    daily_budget_usd: float | None = Field(
        None, gt=0, description="US dollars per UTC day for the whole server; unset: no limit"
    )
    # None: allowed exactly when no budget is set (an unpriced call would slip past any budget).
    allow_unpriced_models: bool | None = None

    @property
    def any_budget(self) -> bool:
        return self.session_budget_usd is not None or self.daily_budget_usd is not None

    @property
    def unpriced_allowed(self) -> bool:
        if self.allow_unpriced_models is None:
            return not self.any_budget
        return self.allow_unpriced_models


def load_budget_settings() -> BudgetSettings:
    """Raises ``ConfigError`` naming the variable (checked at start-up with the other settings)."""
    return BudgetSettings()


SpendReader = Callable[[str, str], tuple[float, float]]  # (session_id, utc day) -> (session, day) USD
PriceCheck = Callable[[str], bool]  # model -> LiteLLM has a price for it


class Budget:
    """What may be spent. ``check`` raises before a call that must not start."""

    def __init__(self, settings: BudgetSettings, read_spend: SpendReader, has_price: PriceCheck):
        self.settings = settings
        self._read_spend = read_spend
        self._has_price = has_price
        self._prices: dict[str, bool] = {}
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.settings.any_budget or not self.settings.unpriced_allowed

    def check(self, session_id: str, models: list[str], now: float | None = None) -> None:
        """Raise ``UnpricedModelError`` or ``BudgetExceededError``; one DB round trip when a budget is set."""
        settings = self.settings
        if not settings.unpriced_allowed:
            unpriced = [model for model in models if not self._priced(model)]
            if unpriced:
                raise UnpricedModelError(unpriced)
        if not settings.any_budget:
            return
        session_spent, day_spent = self._read_spend(session_id, utc_day(time.time() if now is None else now))
        if settings.session_budget_usd is not None and session_spent >= settings.session_budget_usd:
            raise BudgetExceededError("session", session_spent, settings.session_budget_usd, SESSION_SETTING)
        if settings.daily_budget_usd is not None and day_spent >= settings.daily_budget_usd:
            raise BudgetExceededError("daily", day_spent, settings.daily_budget_usd, DAILY_SETTING)

    def _priced(self, model: str) -> bool:
        # Prices come from LiteLLM's bundled map, which does not change while the server runs.
        with self._lock:
            known = self._prices.get(model)
        if known is None:
            known = self._has_price(model)
            with self._lock:
                self._prices[model] = known
        return known

    def describe(self) -> dict[str, Any]:
        """The limits, for clients drawing a budget bar (no spend: that is per session and day)."""
        return {
            "session_budget_usd": self.settings.session_budget_usd,
            "daily_budget_usd": self.settings.daily_budget_usd,
        }
