"""The Russian names of the portal's form fields, shared by the pages (a validation error page
names the fields it refuses) and the API client (a service's refusal names them the same way)."""

from __future__ import annotations

#: Every field of the portal's forms and addresses, as its label names it: what a validation
#: error shows the user instead of the parameter's name (test_pages checks none is missing).
FIELD_TITLES = {
    # sign-in
    "login": "Логин", "password": "Пароль", "otp": "Код подтверждения", "next": "Адрес возврата",
    "invitation_code": "Код приглашения", "challenge": "Шаг входа",
    "enrolment": "Подключение второго фактора",
    "current_password": "Текущий пароль", "new_password": "Новый пароль",
    "repeat_password": "Новый пароль ещё раз", "saved": "Сохранено",
    "email_enabled": "Получать уведомления по почте",
    "notification_id": "Уведомление", "report_id": "Отчёт", "reminded": "Напоминание",
    "secret": "Секретный ключ", "uri": "Ссылка для приложения",
    # the bases and imports
    "role": "Роль", "q": "Поиск по ФИО", "consent": "Согласие", "file": "Файл",
    "reason": "Причина", "organisation_id": "Организация", "person_id": "Участник",
    # pairing, pairs, meetings, goals, the pairs order
    "programme": "Программа", "programme_id": "Программа", "order_ref": "Номер и дата приказа",
    "group": "Пары для утверждения", "mentor_id": "Наставник", "mentee_ids": "Наставляемые",
    "pair_id": "Пара", "goal_id": "Цель плана развития", "status": "Состояние", "school_year": "Учебный год",
    "signatory_position": "Должность подписывающего", "signatory_name": "ФИО подписывающего",
    "kind": "Вид встречи", "date": "Дата", "duration_minutes": "Продолжительность, мин.",
    "format": "Формат", "meeting_number": "Встреча", "respondent_id": "Кто отвечает",
    "satisfaction": "Удовлетворённость (1–10)", "went_well": "Что получилось",
    "missing_feedback_reason": "Причина отсутствия обратной связи",
    "order_number": "Номер приказа", "order_date": "Дата приказа",
    "to_change": "Что изменить", "title": "Цель", "due": "Срок",
    # documents and the roadmap
    "document_id": "Документ", "fmt": "Формат файла", "roadmap_id": "Дорожная карта",
    "item_id": "Мероприятие", "evidence_document_id": "Подтверждающий документ",
    # surveys
    "code": "Анкета", "respondent": "Кто отвечает", "stage": "Этап", "show": "Показать",
    # reports
    "draft_id": "Отчёт", "organisation_name": "Наименование организации",
    "parent_organisation": "Вышестоящая организация", "territory": "Территория",
    "place": "Место составления", "position": "Должность подписывающего",
    "full_name": "ФИО подписывающего", "conclusions": "Выводы",
    # dashboards and the auditor
    "org": "Территория или организация", "as_of": "Дата", "basis": "Какие показатели",
    "record": "Идентификатор записи",
    "name": "Файл",
    # a person added by form, a programme, the documents a curator issues
    "last_name": "Фамилия", "first_name": "Имя", "middle_name": "Отчество",
    "birth_date": "Дата рождения", "category": "Категория", "grade": "Класс",
    "class_letter": "Буква класса", "requests": "Запросы", "competencies": "Компетенции",
    "capacity": "Сколько наставляемых может вести", "consent_given_by": "Кто дал согласие",
    "guardian_name": "ФИО законного представителя", "snils": "СНИЛС", "phone": "Телефон",
    "email": "Электронная почта", "form": "Форма наставничества", "curator": "Куратор программы",
    "curator_name": "ФИО куратора", "curator_position": "Должность куратора",
    "forms": "Формы наставничества", "path": "Адрес страницы",
    # best practices and awards (issue 21)
    "practice_title": "Название практики", "description": "Описание",
    "other_form": "Другая форма", "tags": "Темы", "decision": "Решение", "comment": "Комментарий",
    "merit": "За что", "award": "Вид поощрения", "text": "Текст письма", "addressee": "Адресат",
    "practice_id": "Практика", "tag": "Тема", "period": "Отчётный период",
    # «Наставник года», «Школа наставников», the reporting calendar
    "nomination_id": "Выдвижение", "justification": "Обоснование", "year": "Учебный год",
    "what": "Что сформировать", "material_id": "Материал", "material_title": "Название материала",
    "link": "Ссылка на материал", "completion_id": "Отметка о прохождении",
    "organisation_deadlines": "Сроки отчётов организаций",
    "organisation_reminders": "Напоминания организациям",
    "municipality_deadlines": "Сроки отчётов муниципалитетов",
    "municipality_reminders": "Напоминания муниципалитетам",
}
