"""The pairs of an order «Об утверждении наставнических пар/групп», as the pairing service has them.

An order approves pairs the pairing service formed; the documents service must not take the
request's word for who is paired with whom. The service layer asks pairing (never in-process)
for the acting user (signed claims, not their token), so pairing decides which pairs that user
may see; these rules then list each pair with the mentor, mentees and form pairing formed it
with — or nothing is issued.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from services.documents.commands import PairIn, PairsOrderIn
from services.documents.recipes import OrderedPair, PairsOrderRecipe
from shared.auth import OrgPath
from shared.contracts import PairFound
from shared.errors import DomainError


def refuse_repeated_pairs(order: PairsOrderIn) -> None:
    """Before pairing is asked: a pair listed twice is the request's own fault."""
    ids = [p.pair_id for p in order.pairs]
    repeated = sorted({str(i) for i in ids if ids.count(i) > 1})
    if repeated:
        raise DomainError("DUPLICATE_PAIR", "Пара (группа) указана в приказе дважды", 422,
                          details=[{"pair_id": i} for i in repeated])


def order_recipe(order: PairsOrderIn, org: OrgPath, known: Mapping[str, PairFound],
                 missing: Sequence[str]) -> PairsOrderRecipe:
    """The order's recipe with every pair as pairing formed it, or the refusal of the first
    kind of fault found (every pair of that kind named in ``details``)."""
    if missing:
        raise DomainError("PAIR_NOT_FOUND", "Пара (группа) не найдена в подборе пар или вне "
                          "вашей зоны доступа; приказ не сформирован", 404,
                          details=[{"pair_id": i} for i in missing])
    pairs = [(p, known[str(p.pair_id)]) for p in order.pairs]
    foreign = [p for p, found in pairs if not org.contains(OrgPath.parse(found.path))]
    if foreign:
        raise DomainError("PAIR_OF_ANOTHER_ORGANISATION", "Пара (группа) относится к другой "
                          "организации: в приказ включаются только пары организации, издающей "
                          "приказ", 422, details=[{"pair_id": str(p.pair_id)} for p in foreign])
    closed = [p for p, found in pairs if found.status != "active"]
    if closed:
        raise DomainError("PAIR_NOT_ACTIVE", "Пара (группа) уже завершена или расформирована: в "
                          "приказ включаются только действующие пары", 409,
                          details=[{"pair_id": str(p.pair_id)} for p in closed])
    mismatched = [{"pair_id": str(p.pair_id), "field": field}
                  for p, found in pairs for field in differences(p, found)]
    if mismatched:
        raise DomainError("PAIR_MISMATCH", "Наставник, наставляемые или форма наставничества "
                          "пары (группы) не совпадают с данными подбора пар; обновите список пар",
                          409, details=mismatched)
    return PairsOrderRecipe.model_validate({
        **order.model_dump(mode="json", exclude={"pairs", "number", "date"}),
        "pairs": [ordered(p, found).model_dump(mode="json") for p, found in pairs]})


def differences(pair: PairIn, found: PairFound) -> list[str]:
    """Which of what the request says of a pair is not what pairing formed."""
    wrong = []
    if pair.mentor_id is not None and pair.mentor_id != found.mentor_id:
        wrong.append("mentor_id")
    if pair.mentee_ids is not None and sorted(pair.mentee_ids) != sorted(found.mentee_ids):
        wrong.append("mentee_ids")
    if pair.form is not None and not same_form(pair.form, found.form, found.form_title):
        wrong.append("form")
    return wrong


def ordered(pair: PairIn, found: PairFound) -> OrderedPair:
    """The pair as printed: pairing's composition, in the request's order of mentees and in its
    wording of the form when it gave them (a form's code is printed as the form's title)."""
    form = pair.form
    if form is None or normalise(form) == normalise(found.form):
        form = found.form_title
    return OrderedPair(pair_id=pair.pair_id, mentor_id=found.mentor_id,
                       mentee_ids=list(pair.mentee_ids or found.mentee_ids), form=form,
                       mentor_organisation=found.mentor_organisation_name)


def normalise(text: str) -> str:
    # As the pairing's catalogue reads a form's name: dashes, spacing, case and «ё» aside.
    return re.sub(r"\s*[-–—]\s*", "-", text.strip().lower()).replace("ё", "е")


def same_form(text: str, code: str, title: str) -> bool:
    """The request names the pair's form: by code, by title, or by the brief's short title
    («ученик – учитель» for «Ученик – учитель (обратное наставничество)»)."""
    wanted, full = normalise(text), normalise(title)
    return wanted in (normalise(code), full) or full.startswith((wanted + " ", wanted + "("))
