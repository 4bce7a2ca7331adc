"""Generated documents, opened by a real reader: every DOCX is converted by LibreOffice headless
(one run for all of them) and its text read back with pdftotext."""

from __future__ import annotations

import io
from datetime import date

import docx
import pytest

from services.documents import templates
from services.documents.render import Requisites, Signatory, short_name
from tests.integration.documents.reader import read_documents

DAY = date(2025, 9, 15)
SCHOOL = "Муниципальное бюджетное общеобразовательное учреждение «Средняя школа № 7»"
DIRECTOR = Signatory("Директор", "Смирнова Ирина Петровна")


def requisites(kind: str, sequence: int) -> Requisites:
    return Requisites(organisation_name=SCHOOL, number=templates.number_for(kind, sequence),
                      date=DAY, signatory=DIRECTOR, place="г. Озёрск",
                      parent_organisation="Управление образования Озёрского округа")


PAIRS = [
    templates.PairRow("Петрова Анна Сергеевна", ["Орлов Егор Ильич"], "ученик – ученик"),
    templates.PairRow("Кузнецов Павел Андреевич", ["Белова Мария Олеговна", "Зайцев Илья Романович"],
                      "учитель – ученик"),
]
REPORT = templates.ReportContent(
    level="municipality", territory="Озёрский муниципальный округ", period="2024/2025 учебный год",
    indicators=[
        templates.Indicator("Доля обучающихся 10–19 лет, вовлечённых в наставничество", 37.5,
                            target=70),
        templates.Indicator("Доля молодых педагогов с наставниками", 82.4, target=70),
        templates.Indicator("Удовлетворённость участников", 8.6, unit="баллов"),
    ],
    breakdown=[templates.BreakdownRow("МБОУ СОШ № 7", 14, 21, 17, 8.9),
               templates.BreakdownRow("МБОУ СОШ № 12", 9, 11, 10, 8.1)],
    conclusions=["Целевое значение по вовлечённости обучающихся не достигнуто."],
)


def build_all() -> dict[str, bytes]:
    return {
        "pairs": templates.pairs_order(requisites("pairs_order", 12), PAIRS, "2025-2026"),
        "curator": templates.curator_order(requisites("curator_order", 3), "Волкова Елена Викторовна",
                                           "учителя русского языка", "2025-2026",
                                           ["ученик – ученик"]),
        "award": templates.award_order(requisites("award_order", 4), [
            templates.AwardRow("Петрова Анна Сергеевна", "победа наставляемого в олимпиаде",
                               "наградить почётной грамотой")], "2024-2025"),
        "letter": templates.thanks_letter(requisites("thanks_letter", 5), "Петрова Анна Сергеевна",
                                          "Благодарим Вас за вклад в развитие наставничества."),
        "consent": templates.consent(requisites("consent", 6), templates.ConsentSubject(
            "Кузнецов Павел Андреевич", date(1979, 2, 3))),
        "consent_guardian": templates.consent(requisites("consent", 7), templates.ConsentSubject(
            "Орлов Егор Ильич", date(2013, 5, 2), guardian_name="Орлова Мария Ивановна")),
        "report": templates.analytic_report(requisites("report", 1), REPORT),
    }


@pytest.fixture(scope="module")
def built() -> dict[str, bytes]:
    return build_all()


@pytest.fixture(scope="module")
def texts(built: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    workdir = tmp_path_factory.mktemp("generated")
    return read_documents(built, workdir, workdir / "profile")


def test_pairs_order_carries_requisites_table_and_signature(texts: dict[str, str]) -> None:
    text = texts["pairs"]
    for expected in ("Управление образования Озёрского округа", SCHOOL.upper(), "ПРИКАЗ",
                     "15.09.2025", "№ 12-н", "г. Озёрск",
                     "Об утверждении наставнических пар/групп", "ПРИКАЗЫВАЮ",
                     "Наставник", "Наставляемый(е)", "Форма наставничества",
                     "Петрова Анна Сергеевна", "Орлов Егор Ильич", "Кузнецов Павел Андреевич",
                     "Белова Мария Олеговна", "Зайцев Илья Романович", "учитель – ученик",
                     "2025-2026", "Директор", "И.П. Смирнова"):
        assert expected in text, expected
    # Requisites in ГОСТ order: organisation, type, date and number, title, body, signature.
    order = [text.index(s) for s in (SCHOOL.upper(), "ПРИКАЗ", "15.09.2025", "Об утверждении",
                                      "Петрова Анна Сергеевна", "И.П. Смирнова")]
    assert order == sorted(order)


def test_pairs_order_table_has_one_row_per_pair_and_a_group_in_one_cell(built: dict[str, bytes]) -> None:
    document = docx.Document(io.BytesIO(built["pairs"]))
    table = next(t for t in document.tables if len(t.columns) == 4)
    assert [c.text for c in table.rows[0].cells] == ["№", "Наставник", "Наставляемый(е)",
                                                     "Форма наставничества"]
    assert [[c.text for c in row.cells] for row in table.rows[1:]] == [
        ["1", "Петрова Анна Сергеевна", "Орлов Егор Ильич", "ученик – ученик"],
        ["2", "Кузнецов Павел Андреевич", "Белова Мария Олеговна\nЗайцев Илья Романович",
         "учитель – ученик"],
    ]


def test_curator_award_and_letter(texts: dict[str, str]) -> None:
    curator, award, letter = texts["curator"], texts["award"], texts["letter"]
    assert "№ 3-к" in curator and "О назначении куратора" in curator
    assert "Волкова Елена Викторовна" in curator and "Е.В. Волкова" in curator
    assert "№ 4-п" in award and "О поощрении наставников" in award
    assert "Петрова Анна Сергеевна" in award and "наградить почётной грамотой" in award
    assert "БЛАГОДАРСТВЕННОЕ ПИСЬМО" in letter and "№ 5-бп" in letter
    assert "Уважаемая Анна Сергеевна!" in letter and "15.09.2025" in letter


def test_consent_prefilled_for_an_adult_and_for_a_guardian(texts: dict[str, str]) -> None:
    adult, minor = texts["consent"], texts["consent_guardian"]
    assert "СОГЛАСИЕ" in adult and "на обработку персональных данных" in adult
    assert "Я, Кузнецов Павел Андреевич, 03.02.1979 г. р." in adult
    assert "152-ФЗ" in adult and "№ 6-спд" in adult and "/П.А. Кузнецов/" in adult
    assert "законным представителем" not in adult
    assert "Я, Орлова Мария Ивановна" in minor
    assert "законным представителем несовершеннолетнего(ей) Орлов Егор Ильич, 02.05.2013" in minor
    assert "/М.И. Орлова/" in minor and "№ 7-спд" in minor


def test_report_holds_the_figures_it_was_given_with_tables_and_charts(
        texts: dict[str, str], built: dict[str, bytes]) -> None:
    text = texts["report"]
    for expected in ("ИНФОРМАЦИОННО-АНАЛИТИЧЕСКИЙ ОТЧЁТ", "муниципального образования",
                     "Озёрский муниципальный округ за 2024/2025 учебный год", "№ 1-о",
                     "37,5 %", "70 %", "82,4 %", "8,6 баллов",
                     "МБОУ СОШ № 7", "МБОУ СОШ № 12", "Итого", "23", "32", "27", "8,9", "8,1",
                     "Рисунок 1", "Рисунок 2", "не достигнуто", "И.П. Смирнова"):
        assert expected in text, expected
    document = docx.Document(io.BytesIO(built["report"]))
    assert len(document.inline_shapes) == 2
    images = [r.target_part.blob for r in document.part.rels.values() if "image" in r.reltype]
    assert all(blob.startswith(b"\x89PNG") and len(blob) > 5000 for blob in images)
    totals = [[c.text for c in row.cells] for row in document.tables[-2].rows][-1]
    assert totals == ["", "Итого", "23", "32", "27", ""]


def test_the_same_data_gives_the_same_bytes() -> None:
    """The content hash registered for a document is reproducible from its data."""
    assert build_all() == build_all()


@pytest.mark.parametrize("full, short", [
    ("Петрова Анна Сергеевна", "А.С. Петрова"),
    ("Иванов Пётр", "П. Иванов"),
    ("Оглы", "Оглы"),
])
def test_short_name(full: str, short: str) -> None:
    assert short_name(full) == short


def test_salutation_follows_the_patronymic() -> None:
    assert templates.default_salutation("Кузнецов Павел Андреевич") == "Уважаемый Павел Андреевич!"
    assert templates.default_salutation("Петрова Анна Сергеевна") == "Уважаемая Анна Сергеевна!"


def test_numbers_have_a_suffix_per_kind() -> None:
    assert {templates.number_for(k, 12) for k in templates.KINDS} == {
        "12-н", "12-к", "12-п", "12-бп", "12-спд", "12-о", "12-ипр"}

