"""The link book: verifies join links against the event's secret and the revocations kept in the
journal (`link-generation:<person>`), and issues everyone's current link."""

from __future__ import annotations

from datetime import timedelta

import structlog

from orchestrator.clock import Clock
from orchestrator.engine.ports import Journal
from orchestrator.links import DEFAULT_MARGIN, Link, LinkClaims, LinkSigner, Person, links_for
from orchestrator.schedule.model import Schedule

log = structlog.get_logger(__name__)

GENERATION_KEY = "link-generation:"


class LinkBook:
    def __init__(
        self,
        schedule: Schedule,
        signer: LinkSigner,
        journal: Journal,
        clock: Clock,
        margin: timedelta = DEFAULT_MARGIN,
    ) -> None:
        self.schedule = schedule
        self.signer = signer
        self._journal = journal
        self._clock = clock
        self.margin = margin

    def generation(self, person: str) -> int:
        value = self._journal.recall(GENERATION_KEY + person)
        try:
            return int(value) if value is not None else 0
        except ValueError:
            return 0

    def verify(self, token: str) -> LinkClaims:
        """The claims of a link valid now; raises `LinkError` otherwise. Expiry is judged in event
        time (the run's clock): a rehearsal moves the event, and its links, to today."""
        return self.signer.verify(token, self._clock.now(), generation_of=self.generation)

    def revoke(self, person: str) -> int:
        """Withdraw every link of `person` issued so far; returns the new generation."""
        generation = self.generation(person) + 1
        self._journal.remember(GENERATION_KEY + person, str(generation))
        log.info("link_revoked", person=person, generation=generation)
        return generation

    def links(self) -> list[tuple[Person, Link]]:
        return links_for(self.schedule, self.signer, margin=self.margin, generation_of=self.generation)
