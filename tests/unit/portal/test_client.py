"""The portal's API client: many values of one query parameter asked in chunks, in order."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.portal.client import ApiClient, ApiError, error_of


def test_a_long_list_is_asked_in_chunks_and_joined_in_order() -> None:
    asked: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        assert request.headers["Authorization"] == "Bearer token"
        return httpx.Response(200, json=[{"id": v} for v in request.url.params.get_list("respondent")])

    async def run() -> list[dict[str, str]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://api") as http:
            client = ApiClient(http, "token")
            assert await client.get_list_in_chunks("/things", "respondent", []) == []
            return await client.get_list_in_chunks("/things", "respondent", [str(n) for n in range(5)],
                                                   chunk=2, org="demo/m1", empty=None)

    found = asyncio.run(run())
    assert [f["id"] for f in found] == ["0", "1", "2", "3", "4"]
    assert [u.params.get_list("respondent") for u in asked] == [["0", "1"], ["2", "3"], ["4"]]
    assert all(u.params["org"] == "demo/m1" and "empty" not in u.params for u in asked)


def test_a_refusal_of_any_chunk_is_the_services_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get_list("respondent") == ["b"]:
            return httpx.Response(403, json={"code": "FORBIDDEN",
                                             "message": "Эти данные вне вашей зоны доступа"})
        return httpx.Response(200, json=[])

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://api") as http:
            await ApiClient(http, "token").get_list_in_chunks("/things", "respondent", ["a", "b"], chunk=1)

    with pytest.raises(ApiError) as caught:
        asyncio.run(run())
    assert caught.value.status == 403 and caught.value.message == "Эти данные вне вашей зоны доступа"


def test_a_services_validation_refusal_names_the_fields_as_the_forms_do() -> None:
    """The service names fields by their parameters («satisfaction»); the user reads the form's
    labels, and a field no form has is left unnamed rather than shown in English."""
    refusal = httpx.Response(422, json={
        "code": "VALIDATION_ERROR", "status": 422,
        "message": "Проверьте данные: satisfaction: значение больше допустимого; "
                   "person.snils: неверная контрольная сумма; internal_flag: обязательное поле",
        "details": [
            {"field": "satisfaction", "code": "less_than_equal", "message": "значение больше допустимого"},
            {"field": "person.snils", "code": "INVALID_SNILS", "message": "неверная контрольная сумма"},
            {"field": "internal_flag", "code": "missing", "message": "обязательное поле"}]})

    error = error_of(refusal)

    assert error.code == "VALIDATION_ERROR" and len(error.details) == 3
    assert error.message == ("Проверьте данные: Удовлетворённость (1–10): значение больше "
                             "допустимого; СНИЛС: неверная контрольная сумма; обязательное поле")
