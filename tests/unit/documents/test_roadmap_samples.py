"""The three real roadmaps (text exports of Word documents); expectations computed by hand."""

from datetime import date

import pytest

from services.documents.roadmap import Roadmap, RoadmapItem, parse_roadmap_file
from tests.conftest import FIELD_ROADMAPS

SAMPLES = FIELD_ROADMAPS


def dates(*texts: str) -> tuple[date, ...]:
    return tuple(date.fromisoformat(text) for text in texts)


def by_number(roadmap: Roadmap) -> dict[str, RoadmapItem]:
    return {item.number: item for item in roadmap.items if item.number}


@pytest.fixture(scope="module")
def mineralnye() -> Roadmap:
    return parse_roadmap_file(SAMPLES / "mineralnye-vody-school7-2022-2024.txt")


@pytest.fixture(scope="module")
def smolensk() -> Roadmap:
    return parse_roadmap_file(SAMPLES / "smolensk-2022-2024.txt")


@pytest.fixture(scope="module")
def spassky() -> Roadmap:
    return parse_roadmap_file(SAMPLES / "spassky-ct-2023-2024.txt")


# --------------------------------------------------------------------------- Минеральные Воды


def test_mineralnye_title_period_and_count(mineralnye: Roadmap) -> None:
    assert mineralnye.title == (
        "Дорожная карта по реализации Положения о системе наставничества "
        "МБОУ СОШ № 7 г. Минеральные Воды (2022-2024гг.)"
    )
    assert mineralnye.to_dict()["period"] == {"start": "2022-01-01", "end": "2024-12-31"}
    assert [item.number for item in mineralnye.items] == [str(n) for n in range(1, 16)]


def test_mineralnye_sections_come_from_bold_rows(mineralnye: Roadmap) -> None:
    items = by_number(mineralnye)
    assert items["1"].section == (
        "I. Реализация и актуализация нормативно-правовых и организационно-методических "
        "документов по развитию системы наставничества"
    )
    assert items["7"].section == (
        "II. Создание информационно-коммуникативного пространства для развития системы наставничества"
    )
    assert items["15"].section == "III. Выявление и распространение лучших практик наставничества"


def test_mineralnye_cells_continued_after_page_break(mineralnye: Roadmap) -> None:
    item = by_number(mineralnye)["3"]
    assert item.activity == (
        "Согласование дорожной карты по реализации системы (целевой модели) наставничества "
        "МБОУ СОШ № 7 г. Минеральные Воды."
    )
    assert item.result == (
        "Согласование дорожной карты по реализации системы (целевой модели) наставничества."
    )
    assert item.due_dates == dates("2022-05-20")
    assert by_number(mineralnye)["8"].activity.endswith(
        "- сбор дополнительной информации о запросах, направляемых (обучающиеся/педагоги) "
        "от третьих лиц: классный руководитель, психолог, социальный педагог, родители, "
        "администрации."
    )


def test_mineralnye_extra_empty_column_is_ignored(mineralnye: Roadmap) -> None:
    item = by_number(mineralnye)["4"]
    assert item.activity == (
        "Создание, наполнение и обновление раздела «Развитие наставничества» на "
        "интернет-портале МБОУ СОШ № 7 г. Минеральные Воды"
    )
    assert item.deadline_text == "До 01.10.2022 года постоянно"
    assert item.due_dates == dates("2022-10-01")
    assert item.continuous is True
    assert item.result == "Наличие раздела с содержанием наполнением."
    assert item.responsible == "Заместители директора школы, администратор сайта, кураторы"


def test_mineralnye_html_is_stripped(mineralnye: Roadmap) -> None:
    item = by_number(mineralnye)["7"]
    assert item.activity.startswith(
        "Формирование базы наставляемых: - определение форм наставничества, реализуемых в "
        "рамках программы наставничества"
    )
    assert "<" not in item.activity and "&" not in item.activity
    assert item.deadline_text == "Август-сентябрь Ежегодно Корректировка по запросам Постоянно"
    assert item.due_dates == dates("2022-09-30", "2023-09-30", "2024-09-30")
    assert item.continuous is True


@pytest.mark.parametrize(
    ("number", "due", "continuous"),
    [
        ("1", (), True),
        ("2", ("2022-05-13",), False),
        ("5", (), False),  # "По завершению программы. Ежегодно": nothing concrete
        ("6", ("2022-06-30", "2023-06-30", "2024-06-30"), False),
        ("9", (), True),
        ("15", (), False),
    ],
)
def test_mineralnye_deadlines(
    mineralnye: Roadmap, number: str, due: tuple[str, ...], continuous: bool
) -> None:
    item = by_number(mineralnye)[number]
    assert item.due_dates == dates(*due)
    assert item.continuous is continuous


def test_mineralnye_responsible(mineralnye: Roadmap) -> None:
    items = by_number(mineralnye)
    assert items["1"].responsible == "Директор заместители директора"
    assert items["10"].responsible == "Кураторы, педагог-психолог"


# --------------------------------------------------------------------------- Смоленск


def test_smolensk_title_skips_the_order_preamble(smolensk: Roadmap) -> None:
    assert smolensk.title == (
        "ПЛАН МЕРОПРИЯТИЙ («дорожная карта») по внедрению и развитию системы наставничества "
        "педагогических работников образовательных организаций города Смоленска "
        "на 2022-2024 годы"
    )
    assert smolensk.to_dict()["period"] == {"start": "2022-01-01", "end": "2024-12-31"}


def test_smolensk_items_and_sections(smolensk: Roadmap) -> None:
    numbers = [item.number for item in smolensk.items]
    assert numbers == (
        ["1.1", "1.2"]
        + [f"2.{n}" for n in range(1, 7)]
        + [f"3.{n}" for n in range(1, 9)]
        + [f"4.{n}" for n in range(1, 6)]
    )
    items = by_number(smolensk)
    assert items["1.2"].section == (
        "I. Нормативное обеспечение системы наставничества педагогических работников"
    )
    assert items["2.1"].section == (
        "2. Организационные и координационные меры по внедрению системы наставничества "
        "педагогических работников"
    )
    assert items["4.5"].section == (
        "4. Информационное сопровождение внедрения и развития системы наставничества "
        "педагогических работников"
    )


def test_smolensk_row_split_over_two_lines(smolensk: Roadmap) -> None:
    item = by_number(smolensk)["2.3"]
    assert item.activity == (
        "Участие руководителей ОО в старт-сессии с ГАУ ДПО СОИРО по вопросам внедрения "
        "системы наставничества педагогических работников"
    )
    assert item.deadline_text == "январь 2023 (далее- ежегодно по специальному графику)"
    assert item.due_dates == dates("2023-01-31", "2024-01-31")
    assert item.responsible == "Управление, ОУ"
    assert item.result == (
        "Руководители всех ОО приняли участие в старт-сессии, согласован единый план действий "
        "по вопросу внедрения и развития системы педагогического наставничества на уровне ОО"
    )


@pytest.mark.parametrize(
    ("number", "due", "continuous"),
    [
        ("1.1", ("2022-12-31", "2023-12-31", "2024-12-31"), False),
        ("1.2", ("2023-03-31",), True),
        ("2.2", ("2022-11-30", "2023-11-30", "2024-11-30"), False),
        ("2.4", (), True),
        (
            "2.5",
            (
                "2022-06-30",
                "2022-12-31",
                "2023-06-30",
                "2023-12-31",
                "2024-06-30",
                "2024-12-31",
            ),
            False,
        ),
        ("2.6", ("2023-06-30", "2024-06-30", "2024-12-25"), False),
        ("3.6", (), False),
        ("3.7", ("2023-03-31", "2024-03-31"), False),
        ("3.8", ("2024-10-31",), False),
        ("4.3", (), False),
        ("4.4", (), True),
        ("4.5", ("2022-12-31", "2023-12-31", "2024-12-31"), False),
    ],
)
def test_smolensk_deadlines(smolensk: Roadmap, number: str, due: tuple[str, ...], continuous: bool) -> None:
    item = by_number(smolensk)[number]
    assert item.due_dates == dates(*due)
    assert item.continuous is continuous


def test_smolensk_column_order_result_last(smolensk: Roadmap) -> None:
    item = by_number(smolensk)["3.7"]
    assert item.activity == "Конкурс для наставников и наставляемых"
    assert item.responsible == "Методический отдел МБУ ДО «ЦДО»"
    assert item.result == (
        "Созданы условия для проведения конкурса и выявления лучшего опыта работы и практик наставничества"
    )


# --------------------------------------------------------------------------- Спасский ЦТ


def test_spassky_title_over_several_lines(spassky: Roadmap) -> None:
    assert spassky.title == (
        "План мероприятий (дорожная карта) внедрения методологии (целевой модели) наставничества "
        "обучающихся МБУДО «Спасский ЦТ», в том числе с применением лучших практик обмена "
        "опытом между обучающимися, на территории Спасского муниципального района "
        "на 2023-2024 год"
    )
    # "2023-2024 год" is not called a school year, so it reads as two calendar years.
    assert spassky.to_dict()["period"] == {"start": "2023-01-01", "end": "2024-12-31"}


def test_spassky_numbers_and_nested_sections(spassky: Roadmap) -> None:
    numbers = [item.number for item in spassky.items]
    assert numbers == (
        ["1.2", "1.3", "1.6", "1.7", "1.8", "1.9", "1.10", "1.11", "1.12"]
        + [f"2.{n}" for n in range(1, 7)]
        + [f"3.{n}" for n in range(1, 8)]
        + [f"4.{n}" for n in range(1, 5)]
        + ["5.1.1", "5.2.1"]
    )
    items = by_number(spassky)
    assert items["3.1"].section == (
        "3. Внедрение целевой модели наставничества в МБУДО «Спасский ЦТ» в 2023 г."
    )
    assert items["5.1.1"].section == (
        "5.1. Контроль реализации мероприятий по внедрению целевой модели наставничества:"
    )
    assert items["5.2.1"].section == "5.2. Координирование внедрения целевой модели наставничества"


def test_spassky_responsible_continues_on_next_row(spassky: Roadmap) -> None:
    item = by_number(spassky)["4.3"]
    assert item.responsible == ("Бутрина Т.И. Подлесова Е.А. Хламова А.Г. Хламов Д.В. Сергеева А.А.")
    assert item.result == (
        "Оформлены и обобщены материалы в соответствии с приложением 2 к методическим рекомендациям"
    )
    assert item.due_dates == dates("2024-06-30")


def test_spassky_result_tail_that_slid_into_next_item(spassky: Roadmap) -> None:
    items = by_number(spassky)
    assert items["3.3"].result == (
        "Сформирована база наставников для участия в программах наставничества в 2023 - 2024 "
        "учебном году, подходящая для конкретных программ и запросов наставляемых"
    )
    assert items["3.4"].result is None
    assert items["3.4"].activity == "Обучение наставников"


def test_spassky_result_list_continued_on_next_page(spassky: Roadmap) -> None:
    assert by_number(spassky)["2.2"].result == (
        "Базы наставников, которые потенциально могут участвовать в программах наставничества, "
        "включая: - базы учеников для формы наставничества «ученик-ученик»; - базы выпускников; "
        "- базы наставников от предприятий и организаций;"
    )


@pytest.mark.parametrize(
    ("number", "due", "continuous"),
    [
        ("1.2", ("2023-09-25",), False),
        ("2.1", ("2023-09-30",), False),
        ("2.2", (), True),
        ("2.5", ("2023-12-31",), False),
        ("3.1", ("2023-09-30",), False),
        ("3.2", ("2023-09-30",), False),
        ("3.4", (), False),
        ("3.5", ("2022-10-15",), False),  # outside the period, still kept
        ("3.7", ("2024-06-30",), False),
        ("4.1", ("2023-12-31", "2024-05-31"), False),
        ("4.2", ("2024-06-30",), False),
        ("5.2.1", (), True),
    ],
)
def test_spassky_deadlines(spassky: Roadmap, number: str, due: tuple[str, ...], continuous: bool) -> None:
    item = by_number(spassky)[number]
    assert item.due_dates == dates(*due)
    assert item.continuous is continuous


def test_spassky_item_without_result(spassky: Roadmap) -> None:
    item = by_number(spassky)["5.1.1"]
    assert item.activity == (
        "на уровне Учреждения: - контроль процедуры внедрения целевой модели наставничества; "
        "- контроль проведения программ наставничества."
    )
    assert item.result is None
    assert item.to_dict()["due_dates"] == ["2023-12-31", "2024-05-31"]
