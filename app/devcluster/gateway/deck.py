"""A shuffled deck of revision names, one card per percent: every 100 requests follow a split exactly."""

from __future__ import annotations

import random

Traffic = tuple[tuple[str, int], ...]  # (revision, percent)


class Deck:
    def __init__(self, traffic: Traffic, rng: random.Random) -> None:
        self.cards = [name for name, percent in traffic for _ in range(percent)]
        self.rng = rng
        self.position = len(self.cards)

    def draw(self) -> str | None:
        if not self.cards:
            return None
        if self.position >= len(self.cards):
            self.rng.shuffle(self.cards)
            self.position = 0
        card = self.cards[self.position]
        self.position += 1
        return card
