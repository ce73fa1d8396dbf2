"""The population seen through the engine's ``ColumnSource``: rules and features over it.

The seeder decides who was shown which offer with the same rule evaluator and feature
builder the engine uses, so "eligible" and "feature" mean the same thing in the history
as in the decisions made later.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from demo.population import Population, held_families


class PopulationColumns:
    """Implements ``decisioning.engine.rules.ColumnSource`` over one population chunk."""

    def __init__(self, pop: Population) -> None:
        self.pop = pop
        present = np.ones(pop.size, dtype=bool)
        self._numbers: dict[str, tuple[np.ndarray, np.ndarray]] = {
            "age": (pop.age.astype(np.float64), present),
            "tenure_months": (pop.tenure_months.astype(np.float64), present),
            "attributes.salary": (pop.salary.astype(np.float64), pop.salary_domiciled),
            "attributes.balance": (pop.balance.astype(np.float64), present),
            "attributes.children": (pop.children.astype(np.float64), present),
        }
        self._strings: dict[str, np.ndarray] = {
            "region": pop.region,
            "branch_code": pop.branch_code,
            "time_zone": pop.time_zone,
            "risk_band": pop.risk_band,
            "income_band": pop.income_band,
            "segment": pop.segment,
            "attributes.segment": pop.segment,
            "attributes.gender": pop.gender,
            "attributes.marital_status": pop.marital_status,
        }
        self._booleans: dict[str, np.ndarray] = {
            "has_email": pop.has_email,
            "has_phone": pop.has_phone,
            "attributes.digital_active": pop.digital_active,
            "attributes.car_owner": pop.car_owner,
            "attributes.home_owner": pop.home_owner,
            "attributes.mortgage_elsewhere": pop.mortgage_elsewhere,
        }
        self._families = held_families(pop)
        self._codes: dict[str, tuple[np.ndarray, Mapping[str, int]]] = {}

    @property
    def size(self) -> int:
        return self.pop.size

    def _missing(self) -> np.ndarray:
        return np.zeros(self.size, dtype=bool)

    def number(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name in self._numbers:
            return self._numbers[name]
        return np.zeros(self.size, dtype=np.float64), self._missing()

    def string(self, name: str) -> tuple[np.ndarray, Mapping[str, int]]:
        if name not in self._codes:
            values = self._strings.get(name)
            if values is None:
                self._codes[name] = (np.full(self.size, -1, dtype=np.int32), {})
            else:
                categories, codes = np.unique(values, return_inverse=True)
                self._codes[name] = (
                    codes.astype(np.int32),
                    {str(c): i for i, c in enumerate(categories.tolist())},
                )
        return self._codes[name]

    def boolean(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name in self._booleans:
            return self._booleans[name], np.ones(self.size, dtype=bool)
        return self._missing(), self._missing()

    def holds_product(self, code: str) -> np.ndarray:
        return self.pop.holdings.get(code, self._missing())

    def holds_family(self, family: str) -> np.ndarray:
        return self._families.get(family, self._missing())
