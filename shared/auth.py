"""Who is acting: the actor every command carries, and what their role lets them touch.

Authorisation is role x organisation path, decided here and nowhere else.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any, Self
from uuid import UUID, uuid4

import jwt
from pydantic import BaseModel, ConfigDict, field_validator

from shared.errors import DomainError, forbidden
from shared.metrics import security_event

_CODE = r"[a-z0-9][a-z0-9-]{0,62}"
CODE_PATTERN = re.compile(rf"^{_CODE}$")
#: Stands for "no municipality" in path texts and subjects; no code can take it.
NO_MUNICIPALITY = "_"
#: ``OrgPath.parse``'s grammar, for the schemas of parameters that take a path.
ORG_PATH_PATTERN = rf"^/?{_CODE}(/{_CODE}(/{_CODE})?|/_/{_CODE})?/?$"


class Role(StrEnum):
    CURATOR = "curator"
    MUNICIPAL = "municipal"
    REGIONAL = "regional"
    AUDITOR = "auditor"
    PARTICIPANT = "participant"
    SYSTEM = "system"


class OrgPath(BaseModel):
    """Region → municipality → organisation, as short codes safe for NATS subjects."""

    model_config = ConfigDict(frozen=True)

    region: str
    municipality: str | None = None
    organisation: str | None = None

    @field_validator("region", "municipality", "organisation")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is not None and not CODE_PATTERN.match(value):
            raise ValueError(f"недопустимый код: {value!r}")
        return value

    @classmethod
    def parse(cls, text: str) -> Self:
        """The inverse of ``str``: ``region``, ``region/municipality``,
        ``region/municipality/organisation`` or ``region/_/organisation``."""
        parts = [p for p in text.strip("/").split("/") if p]
        misplaced = NO_MUNICIPALITY in parts and (len(parts) != 3 or parts[1] != NO_MUNICIPALITY)
        if not 1 <= len(parts) <= 3 or misplaced:
            raise ValueError("путь организации: регион[/муниципалитет[/организация]]")
        region, municipality, organisation = [*parts, None, None][:3]
        return cls(region=region, municipality=None if municipality == NO_MUNICIPALITY else municipality,
                   organisation=organisation)

    def __str__(self) -> str:
        return path_text(self.model_dump())

    def contains(self, other: OrgPath) -> bool:
        """True when `other` lies inside (or is) this path."""
        if self.organisation is not None:
            # An organisation holds only itself: a regional college (no municipality) must not
            # take in every municipality's organisation of the same code.
            return self == other
        mine = (self.region, self.municipality, self.organisation)
        theirs = (other.region, other.municipality, other.organisation)
        return all(m is None or m == t for m, t in zip(mine, theirs, strict=True))


def path_text(path: Mapping[str, str | None]) -> str:
    """``region/municipality/organisation`` of an org path as events carry it (a plain dict).

    An organisation directly under the region (a regional college, a partner) is
    ``region/_/organisation``: ``region/x`` alone always means the municipality ``x``.
    """
    return org_key_text(path["region"], path.get("municipality"), path.get("organisation"))


def org_key_text(region: str, municipality: str | None, organisation: str | None) -> str:
    if organisation is not None:
        return f"{region}/{municipality or NO_MUNICIPALITY}/{organisation}"
    return f"{region}/{municipality}" if municipality is not None else region


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: str
    role: Role
    scope: OrgPath

    def in_scope(self, path: OrgPath) -> bool:
        """Membership only: the path lies inside the actor's scope, whatever the role."""
        return self.scope.contains(path)

    def can_read(self, path: OrgPath) -> bool:
        # A participant reads their own pair and forms (checked by membership where those live),
        # never an organisation's records: names of classmates, orders, figures.
        if self.role is Role.PARTICIPANT:
            return False
        return self.scope.contains(path)

    def can_write(self, path: OrgPath) -> bool:
        if self.role in (Role.AUDITOR, Role.PARTICIPANT):
            return False
        return self.scope.contains(path)

    def require_read(self, path: OrgPath) -> None:
        if self.role is Role.PARTICIPANT:
            raise forbidden("Участнику доступны только его пара и анкеты")
        if not self.can_read(path):
            raise forbidden("Эти данные вне вашей зоны доступа")

    def require_record_read(self, path: OrgPath, missing: DomainError) -> None:
        """A record (person, pair, document) outside one's reach answers as if it did not exist.

        The caller sees a 404; the log and the count still say it was a denied access."""
        if not self.can_read(path):
            security_event("access_denied", reason=f"HIDDEN_{missing.code}"[:40], actor=self.user,
                           target=str(path))
            raise missing

    def require_record_write(self, path: OrgPath, missing: DomainError) -> None:
        self.require_record_read(path, missing)
        self.require_write(path)

    def require_write(self, path: OrgPath) -> None:
        if self.role is Role.AUDITOR:
            raise forbidden("Аудитор имеет доступ только для чтения")
        if not self.can_write(path):
            raise forbidden("Действие вне вашей организации или территории")


SYSTEM_ACTOR_USER = "system"


def system_actor(region: str) -> Actor:
    return Actor(user=SYSTEM_ACTOR_USER, role=Role.SYSTEM, scope=OrgPath(region=region))


#: Who issues our access tokens and for whom: a token of another issuer or audience (a token of
#: some other system signed with a leaked key, say) is refused even with a good signature.
TOKEN_ISSUER = "nastavnik"
TOKEN_AUDIENCE = "nastavnik-api"
#: Claims an access token must carry: ``jti`` names it on the deny-list of logged-out tokens.
REQUIRED_CLAIMS = ("exp", "iat", "jti", "aud", "iss", "sub")


def issue_token(actor: Actor, secret: str, ttl_seconds: int = 12 * 3600) -> str:
    now = int(time.time())
    claims = {
        "sub": actor.user,
        "role": actor.role.value,
        "scope": str(actor.scope),
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid4().hex,
        "aud": TOKEN_AUDIENCE,
        "iss": TOKEN_ISSUER,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def read_claims(token: str, secret: str) -> dict[str, Any]:
    """The verified claims of one of our tokens: signature, expiry, issuer, audience, and every
    claim of ``REQUIRED_CLAIMS`` present (a token without ``jti`` could never be revoked)."""
    try:
        return jwt.decode(token, secret, algorithms=["HS256"], audience=TOKEN_AUDIENCE,
                          issuer=TOKEN_ISSUER, options={"require": list(REQUIRED_CLAIMS)})
    except jwt.ExpiredSignatureError as exc:
        raise DomainError("TOKEN_EXPIRED", "Срок действия входа истёк, войдите снова", 401) from exc
    except jwt.InvalidTokenError as exc:
        raise DomainError("UNAUTHENTICATED", "Требуется вход в систему", 401) from exc


def actor_of_claims(claims: Mapping[str, Any]) -> Actor:
    try:
        return Actor(user=claims["sub"], role=Role(claims["role"]),
                     scope=OrgPath.parse(claims["scope"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise DomainError("UNAUTHENTICATED", "Требуется вход в систему", 401) from exc


def read_token(token: str, secret: str) -> Actor:
    """The actor of one of our tokens, without the deny-list (``shared.tokens`` checks that)."""
    return actor_of_claims(read_claims(token, secret))


# --- registry and pairing: who registers a region, keeps accounts, reads names, reads a pair -----

#: Those who issue documents: a participant or an auditor gets no names from the registry (and
#: an official gets labels for children: ``personal_data_view``).
NAME_READERS = frozenset({Role.CURATOR, Role.MUNICIPAL, Role.REGIONAL})


class PersonalView(StrEnum):
    """How much of one person's personal data an actor gets (152-ФЗ, ст. 5: no more than the
    task needs). Ordered from most to least."""

    #: Everything the registry holds: name, birth date, guardian, contacts.
    FULL = "full"
    #: The name alone (an adult mentor, for officials who award and thank mentors).
    NAME = "name"
    #: A pseudonymous label («Наставляемый №7F3A-91C2») and figures, nothing that names.
    LABEL = "label"
    #: Ids and events only (an auditor checks what happened, not to whom).
    IDS = "ids"


#: Roles that may be configured (``NASTAVNIK_NAMES_VISIBLE_TO``) to see names as a curator does.
OFFICIAL_ROLES = frozenset({Role.MUNICIPAL, Role.REGIONAL, Role.AUDITOR})


def personal_data_view(actor: Actor, person_org: OrgPath, *, protected: bool,
                       names_visible_to: Collection[str] = ()) -> PersonalView:
    """The one rule of how much of a person's personal data ``actor`` sees (the scope itself is
    checked before: this only narrows what a reader of the organisation gets).

    ``protected``: a child or whoever stands for one — a mentee (most are minors; no official
    task needs a mentee's name) or a mentor under 18; their guardian goes with them.
    The curator of the person's own organisation (and the system) sees everything, as the
    school keeps the programme; officials above the school see labels, and an adult mentor's
    name (not birth date or contacts) for awards and thanks; auditors see ids. A role listed in
    ``names_visible_to`` (a legal need the region configured) sees everything, as before.
    """
    if actor.role is Role.SYSTEM:
        return PersonalView.FULL
    if actor.role is Role.CURATOR:
        # Only the own organisation: a partner school's curator reading a shared pair gets a label.
        return PersonalView.FULL if actor.scope.contains(person_org) else PersonalView.LABEL
    if actor.role in OFFICIAL_ROLES and actor.role.value in names_visible_to:
        return PersonalView.FULL
    if actor.role is Role.AUDITOR or actor.role not in OFFICIAL_ROLES:
        return PersonalView.IDS
    return PersonalView.LABEL if protected else PersonalView.NAME


def paired_mentor_view(actor: Actor, *, protected: bool) -> PersonalView | None:
    """What a curator sees of the mentor of a confirmed pair filed in their organisation when
    the mentor belongs to another: the pair grants sight of an adult mentor's name (not birth
    date or contacts) for the pairs order; nothing for anyone else or for a minor."""
    if actor.role is Role.CURATOR and not protected:
        return PersonalView.NAME
    return None


def may_read_personal_data(actor: Actor, person_org: OrgPath, *, protected: bool,
                           names_visible_to: Collection[str] = ()) -> bool:
    """Whether ``actor`` sees the person's name at all (see ``personal_data_view``)."""
    view = personal_data_view(actor, person_org, protected=protected,
                              names_visible_to=names_visible_to)
    return view in (PersonalView.FULL, PersonalView.NAME)


def require_region_registrar(actor: Actor, region: str) -> None:
    """A region is registered by its regional operator (or the system), never below."""
    if actor.role not in (Role.REGIONAL, Role.SYSTEM) or actor.scope.region != region:
        raise forbidden("Регион регистрирует только региональный оператор")


#: Roles whose accounts sign in only with a second factor (TOTP): the region's administrator
#: (who creates accounts and sees the whole region) and the auditors.
SECOND_FACTOR_ROLES = frozenset({Role.REGIONAL, Role.AUDITOR})


def requires_second_factor(role: Role) -> bool:
    return role in SECOND_FACTOR_ROLES


def require_account_admin(actor: Actor) -> None:
    if actor.role not in (Role.REGIONAL, Role.SYSTEM):
        raise forbidden("Учётные записи создаёт региональный администратор")


def require_diagnostics_reader(actor: Actor) -> None:
    """Metrics and the API's documents are for the region's operator (and the system), not for
    every signed-in user; Prometheus uses the configured diagnostics token instead."""
    if actor.role not in (Role.REGIONAL, Role.SYSTEM):
        raise forbidden("Служебные сведения доступны только региональному оператору")


def require_names_reader(actor: Actor) -> None:
    """Names leave the registry only for a document an official issues (each person's scope is
    checked on top of this)."""
    if actor.role not in NAME_READERS:
        raise forbidden("Недостаточно прав для получения ФИО участников")


def participant_id(actor: Actor) -> UUID | None:
    """The registry id a participant acts as (their token names them by it); None for an official.

    A participant's rights are membership (their own pair, their own answers), never a scope."""
    if actor.role is not Role.PARTICIPANT:
        return None
    try:
        return UUID(actor.user)
    except ValueError:
        raise forbidden("Участник не опознан") from None


def can_read_pair(actor: Actor, path: OrgPath, members: Collection[UUID]) -> bool:
    """A participant reads the pairs they are a member of, wherever filed; others their scope's."""
    if actor.role is Role.PARTICIPANT:
        try:
            return UUID(actor.user) in members
        except ValueError:
            return False
    return actor.can_read(path)


def require_pair_member_or_keeper(actor: Actor, path: OrgPath, members: Collection[UUID],
                                  missing: DomainError) -> None:
    """A pair's own matters (a goal's progress): its members, wherever their organisation is, and
    whoever writes at the pair's organisation; to anyone else the pair does not exist."""
    if actor.role is not Role.PARTICIPANT:
        actor.require_record_write(path, missing)
    elif not can_read_pair(actor, path, members):
        raise missing


def require_inviter(actor: Actor, path: OrgPath, missing: DomainError) -> None:
    """A participant is invited to sign in by the curator of their own organisation: the one who
    knows them (and, for a minor, their guardian) in person. Another organisation's person
    answers as if there were none; an official above the school may read but not invite."""
    actor.require_record_read(path, missing)
    if actor.role is not Role.CURATOR or not actor.can_write(path):
        raise forbidden("Код приглашения выдаёт куратор организации участника")


# --- pairing across organisations: a proposal the mentor's organisation answers ---------------

def pair_needs_agreement(actor: Actor, same_organisation: bool, mentor_path: OrgPath) -> bool:
    """A pair with another organisation's mentor binds that organisation's person: it is a
    proposal its curator answers. Whoever may already write at the mentor's organisation (the
    municipality or region above both, the system) forms the pair directly, as before."""
    return not same_organisation and not actor.can_write(mentor_path)


def can_see_pair(actor: Actor, path: OrgPath, mentor_path: OrgPath | None) -> bool:
    """Officials read the pairs filed in their scope and the pairs with a mentor of their scope
    filed elsewhere (a cross-organisation pair grants both sides sight); a participant reads
    only their own pairs (``can_read_pair``)."""
    return actor.can_read(path) or (mentor_path is not None and actor.can_read(mentor_path))


def require_pair_sight(actor: Actor, path: OrgPath, mentor_path: OrgPath | None,
                       missing: DomainError) -> None:
    """``can_see_pair`` or, for anyone else, as if the pair did not exist (logged as denied)."""
    if mentor_path is not None and not actor.can_read(path) and actor.can_read(mentor_path):
        return
    actor.require_record_read(path, missing)


def require_pair_ender(actor: Actor, path: OrgPath, mentor_path: OrgPath | None,
                       missing: DomainError) -> None:
    """A pair is ended by its own organisation, or by the organisation of a mentor from
    elsewhere: either side of a cross-organisation pair may dissolve it."""
    if mentor_path is not None and not actor.can_write(path) and actor.can_read(mentor_path):
        actor.require_write(mentor_path)
        return
    actor.require_record_write(path, missing)


def require_proposal_answerer(actor: Actor, path: OrgPath, mentor_path: OrgPath | None,
                              missing: DomainError) -> None:
    """A proposal is confirmed or declined by whoever may write at the mentor's organisation:
    its curator (or the municipality or region above it). The proposer sees it but may not
    answer it (403); anyone who cannot see it gets a 404."""
    if mentor_path is None:  # the pair's own mentor: no proposal to answer (the domain says so)
        actor.require_record_write(path, missing)
        return
    if actor.can_write(mentor_path):
        return
    if can_see_pair(actor, path, mentor_path):
        raise forbidden("Предложение пары подтверждает или отклоняет куратор организации "
                        "наставника")
    actor.require_record_read(mentor_path, missing)
    raise missing


# --- monitoring: figures, surveys, the reporting calendar, the audit log ---------------------

def require_figures_reader(actor: Actor) -> None:
    """Figures (dashboards, KPIs, the calendar) are for those who run programmes, not for pairs."""
    if actor.role is Role.PARTICIPANT:
        raise forbidden("Сводные показатели доступны куратору, муниципалитету, региону и аудитору")


def answers_only_for_self(actor: Actor) -> bool:
    """A participant answers a survey only as themselves (a curator records others' answers)."""
    return actor.role is Role.PARTICIPANT


def require_own_respondents(actor: Actor, respondent_ids: Collection[str]) -> None:
    """A participant asks which questionnaires are answered only about themselves."""
    if actor.role is Role.PARTICIPANT and any(r != actor.user for r in respondent_ids):
        raise forbidden("Участнику доступны только его собственные анкеты")


def require_calendar_configurer(actor: Actor) -> None:
    if actor.role not in (Role.REGIONAL, Role.SYSTEM) or actor.scope.municipality is not None:
        raise forbidden("Календарь отчётности настраивает региональный оператор")


def require_forms_configurer(actor: Actor, region: str) -> None:
    """The region's catalogue of forms of mentorship is chosen by its regional operator."""
    if actor.role not in (Role.REGIONAL, Role.SYSTEM) or actor.scope.municipality is not None \
            or actor.scope.region != region:
        raise forbidden("Формы наставничества региона настраивает региональный оператор")


AUDIT_ROLES = frozenset({Role.AUDITOR, Role.REGIONAL, Role.SYSTEM})
HEAD_SIGNING_ROLES = frozenset({Role.REGIONAL, Role.SYSTEM})


def require_auditor(actor: Actor, whole_log: bool = False, region: str | None = None) -> None:
    """The audit log is read by auditors and the region; the whole log only at region level."""
    if actor.role not in AUDIT_ROLES:
        raise forbidden("Журнал аудита доступен только аудитору и региональному оператору")
    if whole_log and (actor.scope.municipality is not None
                      or (region is not None and actor.scope.region != region)):
        raise forbidden("Весь журнал проверяет и выгружает только аудитор уровня региона")


def require_head_signer(actor: Actor, region: str | None) -> None:
    """Signing a head on demand is the region's act, never an auditor's (auditors only read)."""
    if actor.role not in HEAD_SIGNING_ROLES:
        raise forbidden("Подписать вершину журнала может только региональный оператор")
    if actor.scope.municipality is not None or (region is not None and actor.scope.region != region):
        raise forbidden("Вершину журнала подписывает только региональный оператор этого региона")


# --- documents: who issues, who offers a practice to the bank and who reviews it ---------------

def require_issuer(actor: Actor, path: OrgPath) -> None:
    """Documents of ``path`` (orders, letters, reports, roadmaps, marks): whoever may write there."""
    actor.require_write(path)
