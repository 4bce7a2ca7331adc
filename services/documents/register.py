"""The register of issued documents: one number per organisation, kind and year, and what each
document is kept as.

A document that names nobody keeps its file. One that names registry persons keeps no bytes
(they hold names): its recipe is kept, and a download renders it again with the names the
registry gives the downloading user, then checks the result against the SHA-256 registered at
issue (``recipes`` is the one mapping)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa

from services.documents import recipes, views
from services.documents.pdf import docx_to_pdf
from services.documents.templates import number_for
from shared.errors import DomainError, not_found

NUMBER_ATTEMPTS = 20


class Register:
    def __init__(self, engine: sa.Engine, pdf_profile: Path) -> None:
        self.engine = engine
        self.pdf_profile = pdf_profile

    def claim_number(self, path: str, kind: str, year: int, document_id: UUID) -> int:
        """The next free number; the primary key settles a race between two replicas."""
        claims = views.number_claims.c
        for _ in range(NUMBER_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    last = conn.execute(sa.select(sa.func.max(claims.sequence)).where(
                        claims.path == path, claims.kind == kind, claims.year == year)).scalar()
                    sequence = int(last or 0) + 1
                    conn.execute(views.number_claims.insert().values(
                        path=path, kind=kind, year=year, sequence=sequence, document_id=document_id))
                return sequence
            except sa.exc.IntegrityError:
                continue
        raise DomainError("NUMBER_BUSY", "Не удалось присвоить номер документу, повторите", 409)

    def next_number(self, path: str, kind: str, year: int, document_id: UUID) -> str:
        """The next number of the kind's series not already given by hand to a document."""
        for _ in range(NUMBER_ATTEMPTS):
            number = number_for(kind, self.claim_number(path, kind, year, document_id))
            if not self.taken(path, number):
                return number
            # Given by hand to another document: the claim stays, held by no document, and the
            # series goes on past it.
            with self.engine.begin() as conn:
                conn.execute(views.number_claims.update().where(
                    views.number_claims.c.document_id == document_id).values(document_id=uuid4()))
        raise DomainError("NUMBER_BUSY", "Не удалось присвоить номер документу, повторите", 409)

    def taken(self, path: str, number: str) -> bool:
        """Whether a document of the organisation already carries ``number`` (case aside)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(views.documents.c.id).where(
                views.documents.c.path == path,
                sa.func.lower(views.documents.c.number) == number.lower())).first() is not None

    def given_number(self, path: str, number: str) -> str:
        """A number the curator gave: unique within the organisation, or refused (409)."""
        if self.taken(path, number):
            raise DomainError("DOCUMENT_NUMBER_TAKEN", f"Номер «{number}» уже присвоен другому "
                              "документу организации: укажите другой номер", 409)
        return number

    def keep(self, document_id: UUID, content: bytes, kind: str, number: str, day: date,
             recipe: dict[str, Any] | None) -> None:
        """The file, or with a ``recipe`` (the file holds names) the recipe to render it again.

        Never a recipe naming someone whose withdrawal already reached this service: in the same
        transaction, so either the withdrawal is seen here or its erasure finds the recipe."""
        with self.engine.begin() as conn:
            if recipe is not None:
                named = recipes.people(kind, recipes.load(kind, recipe))
                if named and conn.execute(sa.select(views.erasure_inbox.c.person_id).where(
                        views.erasure_inbox.c.person_id.in_(named))).first():
                    raise DomainError("PERSON_NOT_FOUND", "Участник не найден, вне вашей зоны "
                                      "доступа или отозвал согласие", 404)
            if recipe is None:
                conn.execute(views.files.insert().values(document_id=document_id, docx=content))
            else:
                conn.execute(views.recipes.insert().values(
                    document_id=document_id, kind=kind, body=recipe, number=number,
                    date=day.isoformat()))

    def forget(self, document_id: UUID) -> None:
        """What an issue that did not register its document left: its number claim, its file or
        recipe. Only for an id nobody else can be issuing (a fresh one, or under ``exclusive``)."""
        with self.engine.begin() as conn:
            for table in (views.files, views.recipes, views.number_claims):
                conn.execute(table.delete().where(table.c.document_id == document_id))

    def recipe_row(self, document_id: UUID) -> sa.Row[Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(views.recipes)
                                .where(views.recipes.c.document_id == document_id)).first()

    def file(self, row: sa.Row[Any], fmt: str, names: recipes.Names) -> bytes:
        """The file of the registered document ``row``: stored, or rendered again from its recipe
        with ``names``."""
        document_id = row.id
        recipe = self.recipe_row(document_id)
        if recipe is not None:
            content = self.rendered(row, recipe, names)
            # Never cached: a PDF with names would outlive a withdrawn consent.
            return content if fmt == "docx" else docx_to_pdf(content, self.pdf_profile)
        with self.engine.connect() as conn:
            stored = conn.execute(sa.select(views.files)
                                  .where(views.files.c.document_id == document_id)).first()
        if stored is None:
            raise not_found("Файл документа", "DOCUMENT_FILE_NOT_FOUND")
        if hashlib.sha256(stored.docx).hexdigest() != row.content_sha256:
            raise DomainError("DOCUMENT_TAMPERED",
                              "Файл документа не совпадает с зарегистрированной версией", 409)
        if fmt == "docx":
            return stored.docx
        if stored.pdf is not None:
            return stored.pdf
        pdf = docx_to_pdf(stored.docx, self.pdf_profile)
        with self.engine.begin() as conn:
            conn.execute(views.files.update().where(views.files.c.document_id == document_id)
                         .values(pdf=pdf))
        return pdf

    @staticmethod
    def rendered(row: sa.Row[Any], recipe: sa.Row[Any], names: recipes.Names) -> bytes:
        changed = DomainError(
            "DOCUMENT_CHANGED",
            f"Документ № {row.number} от {format_iso_date(row.date)} нельзя воспроизвести в "
            "зарегистрированном виде: сведения об участниках в реестре изменились после его "
            "выпуска (например, исправлено ФИО). Регистрация документа сохранена; при "
            "необходимости выпустите новый документ", 409,
            details=[{"id": str(row.id), "number": row.number, "date": row.date,
                      "content_sha256": row.content_sha256}])
        body = recipes.load(recipe.kind, recipe.body)

        def render(with_names: recipes.Names) -> bytes:
            try:
                return recipes.render(recipe.kind, body, with_names, recipe.number,
                                      date.fromisoformat(recipe.date))
            except DomainError as exc:  # e.g. a birth date since removed from the registry
                if exc.code == "NAMES_HIDDEN":
                    raise  # not a change: this reader may not have the document at all
                raise changed from exc

        content = render(names)
        if hashlib.sha256(content).hexdigest() == row.content_sha256:
            return content
        if any(person.pseudonymous for person in names.values()):
            # A reader who sees children by label only (an official, 152-ФЗ, ст. 5) gets a
            # redacted copy of a document issued with names: not the registered bytes, which
            # they may not read.
            return content
        labelled = recipes.as_officials_see(names)
        if labelled != names:  # issued by an official, with labels: rendered as issued
            content = render(labelled)
            if hashlib.sha256(content).hexdigest() == row.content_sha256:
                return content
        raise changed

def format_iso_date(text: str) -> str:
    """«2023-09-15» → «15.09.2023», as the document itself prints it."""
    return date.fromisoformat(text).strftime("%d.%m.%Y")
