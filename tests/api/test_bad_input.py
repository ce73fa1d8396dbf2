"""Input that is not what the contract says JSON and URLs are: invalid Unicode and bodies
without a length. Whatever the endpoint or field, the answer is a 4xx in the error shape,
never a 500, and no error message carries the bad character back.

The Unicode cases are not written per endpoint: they walk the live OpenAPI schema, build
one valid body per operation (every property, optional ones included, and each variant of
a ``oneOf`` object), and put an unpaired surrogate in each string and each key of it. An
endpoint added later is covered without anyone remembering to.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.settings import patched_settings

from crosssell.api.views import SCHEMA_SETTINGS
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db

HIGH = "\ud83d"  # the first half of 😀 (U+1F600), alone
LOW = "\udc00"
# The generalised UTF-8 of U+D83D: what a client encoding a lone surrogate sends in a URL.
PERCENT_SURROGATE = "%ED%A0%BD"
SURROGATES = re.compile("[\ud800-\udfff]")


def _live_schema() -> dict[str, Any]:
    with patched_settings(SCHEMA_SETTINGS):
        schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


SCHEMA = _live_schema()
COMPONENTS = SCHEMA["components"]["schemas"]

# Property values that make the bodies mean something (path values: the ``world``).
NAMED_VALUES = {"external_id": "C123"}
TIME = "2026-01-01T09:30:00Z"
EVENT_BODY = {
    "event_id": "E1",
    "type": "x",
    "occurred_at": TIME,
    "customer": {"external_id": "C123"},
}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = COMPONENTS[node["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in node:
        merged: dict[str, Any] = {}
        for part in node["allOf"]:
            merged.update(_resolve(part))
        merged.update({k: v for k, v in node.items() if k != "allOf"})
        return merged
    return node


def _is_blank_alternative(node: dict[str, Any]) -> bool:
    node = _resolve(node)
    return node.get("maxLength") == 0 or node.get("enum") in ([""], [None])


def _string(node: dict[str, Any], name: str) -> str:
    if name in NAMED_VALUES:
        return NAMED_VALUES[name]
    return {
        "date-time": TIME,
        "date": "1990-05-17",
        "uuid": str(uuid.UUID(int=7)),
        "email": "ana@mail.example",
    }.get(node.get("format", ""), "x")


def examples(node: dict[str, Any], name: str = "") -> list[Any]:
    """Valid values for a schema node: the first is the plainest, the others each take
    one other ``oneOf`` branch (so every object shape a body can have is seen once)."""
    node = _resolve(node)
    if "oneOf" in node:
        branches = [b for b in node["oneOf"] if not _is_blank_alternative(b)]
        return [value for branch in branches for value in examples(branch, name)]
    if "enum" in node:
        return [next(v for v in node["enum"] if v not in ("", None))]
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        if not properties:  # free JSON: a string and a key to spoil too
            return [{"note": "x"}]
        choices = {key: examples(sub, key) for key, sub in properties.items()}
        plain = {key: values[0] for key, values in choices.items()}
        variants = [plain]
        for key, values in choices.items():
            variants += [{**plain, key: value} for value in values[1:]]
        return variants
    if kind == "array":
        return [[value] for value in examples(node["items"], name)]
    if kind == "string":
        return [_string(node, name)]
    if kind in ("integer", "number"):
        return [node.get("default", node.get("minimum", 1))]
    if kind == "boolean":
        return [False]
    raise AssertionError(f"no example for {node}")


def _body_operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                yield method.upper(), path, operation


def _url(path: str, values: dict[str, str], **overrides: str) -> str:
    """The path with its parameters filled in; a made-up uuid for the ones not given."""
    values = {**values, **overrides}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], str(uuid.uuid4())), path)


def _strings(value: Any, where: tuple = ()) -> Iterator[tuple]:
    """The location of every string value in a body."""
    if isinstance(value, str):
        yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*where, index))


def _objects(value: Any, where: tuple = ()) -> Iterator[tuple]:
    """The location of every object in a body (the body itself included)."""
    if isinstance(value, dict):
        yield where
        for key, item in value.items():
            yield from _objects(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _objects(item, (*where, index))


def _field_name(where: tuple) -> str:
    """The name the error shape gives a location: dotted, ``[i]`` for list items."""
    name = ""
    for part in where:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name


def _get(body: Any, where: tuple) -> Any:
    for part in where:
        body = body[part]
    return body


def _with(body: Any, where: tuple, value: Any) -> Any:
    copy = json.loads(json.dumps(body))
    if not where:
        return value
    _get(copy, where[:-1])[where[-1]] = value
    return copy


def _cases():
    strings, keys, bodies = [], [], []
    for method, path, operation in _body_operations():
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        seen_strings: set[tuple] = set()
        seen_objects: set[tuple] = set()
        op = operation["operationId"]
        for n, body in enumerate(examples(schema)):
            bodies.append(pytest.param(method, path, body, id=f"{op}-{n}"))
            for where in _strings(body):
                if where not in seen_strings:
                    seen_strings.add(where)
                    name = _field_name(where)
                    strings.append(pytest.param(method, path, body, where, id=f"{op}:{name}"))
            for where in _objects(body):
                if where not in seen_objects:
                    seen_objects.add(where)
                    name = _field_name(where) or "(body)"
                    keys.append(pytest.param(method, path, body, where, id=f"{op}:{name}"))
    return strings, keys, bodies


STRING_CASES, KEY_CASES, BODIES = _cases()


def _send(api, method: str, path: str, body: Any, values: dict[str, str]):
    # json.dumps escapes the surrogate as \\ud83d: valid JSON syntax, not valid Unicode.
    return api._send(method.lower(), _url(path, values), json.dumps(body))


def assert_clean_error(response, status: int | tuple[int, ...] = 400) -> dict[str, Any]:
    """A 4xx in the error shape whose bytes are UTF-8 and whose text holds no surrogate."""
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.content[:500])
    text = response.content.decode("utf-8")  # strict: fails on an encoded surrogate
    assert not SURROGATES.search(text)
    error = error_of(response)
    assert not SURROGATES.search(json.dumps(error, ensure_ascii=False)), error
    return error


@pytest.fixture
def world(bank, customer) -> dict[str, str]:
    """The small bank, customer C123 and an SMS message queued for them: the path
    parameters name them, so each view gets as far as reading its body."""
    from tests.api.test_messages import queue_message

    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    return {"external_id": "C123", "channel": "sms", "message_id": str(message.pk)}


def _path_values(request, path: str) -> dict[str, str]:
    """The world when the path names a customer or message (the view looks it up before
    it reads the body), else just a channel: building the bank for each case is slow."""
    if "{external_id}" in path or "{message_id}" in path:
        return request.getfixturevalue("world")
    return {"channel": "sms"}


def test_the_walk_covers_every_endpoint_that_takes_a_body():
    operations = {(m, p) for m, p, _ in _body_operations()}
    assert len(operations) >= 9
    with_strings = {(p.values[0], p.values[1]) for p in STRING_CASES}
    # the lease's body holds only numbers; every other body has strings
    assert operations - with_strings == {("POST", "/api/v1/channels/{channel}/messages/lease/")}
    assert {(p.values[0], p.values[1]) for p in KEY_CASES} == operations


@pytest.mark.parametrize(("method", "path", "body"), BODIES)
def test_each_example_body_is_valid(world, channel_api, method, path, body):
    """The baseline: without the surrogate the same body is not a 400 (so the 400s below
    are the surrogate's). 404/409/422 are fine: a made-up decision id need not exist."""
    response = _send(channel_api, method, path, body, world)
    assert response.status_code < 500, response.content[:500]
    assert response.status_code != 400, response.json()


@pytest.mark.parametrize(("method", "path", "body", "where"), STRING_CASES)
def test_a_lone_surrogate_in_any_string_is_400_naming_the_field(
    request, channel_api, method, path, body, where
):
    spoiled = _with(body, where, f"{_get(body, where)}{HIGH}")
    values = _path_values(request, path)
    error = assert_clean_error(_send(channel_api, method, path, spoiled, values))
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [_field_name(where) or "non_field_errors"], error
    assert "U+D83D" in error["fields"][_field_name(where) or "non_field_errors"][0]


@pytest.mark.parametrize(("method", "path", "body", "where"), KEY_CASES)
def test_a_lone_surrogate_in_any_key_is_400(request, channel_api, method, path, body, where):
    spoiled = _with(body, where, {**_get(body, where), f"k{LOW}": "v"})
    values = _path_values(request, path)
    error = assert_clean_error(_send(channel_api, method, path, spoiled, values))
    assert error["code"] == "validation_error"
    # the field is named with the surrogate written as its escape
    assert list(error["fields"]) == [_field_name((*where, "k\\udc00"))], error


def test_every_bad_string_is_named_at_once(channel_api):
    # low then high: not a pair (high then low would be one character)
    body = {"event_id": f"E{HIGH}", "type": LOW, "customer": {"external_id": f"C{LOW}{HIGH}"}}
    error = assert_clean_error(channel_api.post("/api/v1/events/", json.dumps(body)))
    assert set(error["fields"]) == {"event_id", "type", "customer.external_id"}


def test_a_surrogate_pair_is_one_character_and_fine(channel_api, world):
    body = {
        "event_id": "E\ud83d\ude00",  # json.dumps writes the pair; it decodes to 😀
        "type": "x",
        "occurred_at": TIME,
        "customer": {"external_id": "C123"},
    }
    assert channel_api.post("/api/v1/events/", json.dumps(body)).status_code == 202


def test_a_body_that_is_a_lone_surrogate_is_400(channel_api):
    error = assert_clean_error(channel_api.post("/api/v1/events/", '"\\ud83d"'))
    assert list(error["fields"]) == ["non_field_errors"]


def test_bytes_that_are_not_utf8_are_400(channel_api):
    error = assert_clean_error(channel_api.post("/api/v1/events/", b'{"event_id": "\xed\xa0\xbd"}'))
    assert error["code"] == "malformed_request"


def _post_bytes(api, body: bytes, charset: str):
    return api.http.generic(
        "POST",
        "/api/v1/events/",
        body,
        content_type=f"application/json; charset={charset}",
        **api._headers(),
    )


@pytest.mark.parametrize("charset", ["rot13", "zlib", "bz2", "base64", "hex", "uu"])
def test_a_charset_that_is_no_text_encoding_is_415_not_500(channel_api, charset):
    error = assert_clean_error(_post_bytes(channel_api, b'{"event_id": "E1"}', charset), 415)
    assert error["code"] == "unsupported_media_type"


def test_an_unknown_charset_is_read_as_utf8(channel_api):
    # Django drops a charset it does not know; the body is then read as UTF-8
    error = assert_clean_error(_post_bytes(channel_api, b'{"type": "x"}', "klingon-8"))
    assert error["code"] == "validation_error" and "event_id" in error["fields"]


@pytest.mark.parametrize("charset", ["unicode_escape", "raw_unicode_escape", "utf-7"])
def test_a_surrogate_a_charset_decodes_to_is_400_too(channel_api, charset):
    body = {"event_id": f"E{HIGH}", "type": "x", "occurred_at": TIME}
    raw = json.dumps(body).encode("ascii")  # \ud83d, which these charsets decode themselves
    if charset == "utf-7":
        raw = json.dumps(body, ensure_ascii=False).encode("utf-7")
    error = assert_clean_error(_post_bytes(channel_api, raw, charset))
    assert error["code"] == "validation_error"
    assert "event_id" in error["fields"]


def test_json_in_utf16_is_read(channel_api, world):
    body = {**EVENT_BODY, "event_id": "E\u00e9"}
    response = _post_bytes(
        channel_api, json.dumps(body, ensure_ascii=False).encode("utf-16"), "utf-16"
    )
    assert response.status_code == 202, response.content


# --- the URL -------------------------------------------------------------------------------


def _path_cases():
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    name = parameter["name"]
                    yield pytest.param(
                        method.upper(), path, name, id=f"{operation['operationId']}:{name}"
                    )


def _query_cases():
    for path, operations in SCHEMA["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    name = parameter["name"]
                    yield pytest.param(path, name, id=f"{operation['operationId']}:{name}")


@pytest.mark.parametrize(("method", "path", "name"), list(_path_cases()))
def test_a_lone_surrogate_in_a_path_segment_is_400_in_the_error_shape(
    request, channel_api, method, path, name
):
    url = _url(path, _path_values(request, path), **{name: f"A{PERCENT_SURROGATE}"})
    response = channel_api.http.generic(
        method, url, "{}", content_type="application/json", **channel_api._headers()
    )
    error = assert_clean_error(response, (400, 404))
    assert error["code"] in ("malformed_request", "not_found")


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/{PERCENT_SURROGATE}/",
        f"/api/v1/offers/{PERCENT_SURROGATE}",
        f"/api/{PERCENT_SURROGATE}",
        "/api/v1/offers/%FF/",
    ],
)
def test_a_url_path_that_is_not_utf8_is_400(channel_api, url):
    error = assert_clean_error(channel_api.get(url))
    assert error["code"] == "malformed_request"


@pytest.mark.parametrize(("path", "name"), list(_query_cases()))
def test_a_lone_surrogate_in_a_query_parameter_is_400(admin_api, path, name):
    response = admin_api.get(f"{_url(path, {})}?{name}={PERCENT_SURROGATE}")
    error = assert_clean_error(response)
    assert error["code"] == "malformed_request"


def test_a_percent_encoded_emoji_in_the_path_is_just_a_character(admin_api):
    # %F0%9F%98%80 is 😀 in UTF-8: a valid path, an offer that does not exist
    error = assert_clean_error(admin_api.get("/api/v1/offers/%F0%9F%98%80/"), 404)
    assert error["code"] == "not_found"


# --- error messages that echo input --------------------------------------------------------


EVENT = {"event_id": "E1", "type": "x", "occurred_at": TIME, "customer": {"external_id": "C1"}}


@pytest.mark.parametrize(
    "raise_",
    ["application_error", "drf_validation_error", "django_validation_error"],
)
def test_an_error_that_echoes_a_surrogate_is_rendered_with_it_escaped(
    channel_api, monkeypatch, raise_
):
    """Defence in depth: were anything to echo a surrogate into an error (a service's
    message, a field name), the error renders with its escape instead of failing."""
    from django.core.exceptions import ValidationError as DjangoValidationError
    from rest_framework.exceptions import ValidationError

    from core.exceptions import Unprocessable
    from decisioning.api import views

    def fail(**kwargs):
        if raise_ == "application_error":
            raise Unprocessable(f"no offer {HIGH}", fields={f"offer{HIGH}": [f"bad {LOW}"]})
        if raise_ == "drf_validation_error":
            raise ValidationError({f"offer{HIGH}": [f"{HIGH!s} is not a valid choice."]})
        raise DjangoValidationError({"offer": [f'"{HIGH}" is not a valid choice.']})

    monkeypatch.setattr(views, "event_ingest", fail)
    response = channel_api.post("/api/v1/events/", EVENT)
    error = assert_clean_error(response, (400, 422))
    assert "\\ud83d" in json.dumps(error, ensure_ascii=False)  # written as its escape


# --- bodies without a length ---------------------------------------------------------------

LEASE = "/api/v1/channels/sms/messages/lease/"


def _chunked(api, path: str, body: bytes, *, terminated: bool):
    """A request as a WSGI server hands on ``Transfer-Encoding: chunked``: no
    Content-Length, the body in ``wsgi.input`` — de-chunked (and said so with
    ``wsgi.input_terminated``, as gunicorn does) or not (Django's development server)."""
    environ: dict[str, Any] = {
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
    }
    if terminated:
        environ["wsgi.input_terminated"] = True
    return api.http.generic("POST", path, b"", **api._headers(), **environ)


@pytest.fixture
def three_due_sms(bank):
    from tests.api.test_messages import queue_message
    from tests.factories import ConsentFactory, CustomerFactory

    for _ in range(3):
        person = CustomerFactory()
        ConsentFactory(customer=person, channel="sms")
        queue_message(person, bank.fuel_card, bank.fuel_campaign)


@pytest.fixture
def no_quiet_hours(db):
    from campaigns.models import ContactPolicy

    ContactPolicy.objects.filter(is_active=True).update(quiet_channels=[])


def test_a_chunked_body_is_read_when_the_server_dechunks_it(
    channel_api, three_due_sms, no_quiet_hours
):
    response = _chunked(channel_api, LEASE, b'{"max": 1}', terminated=True)
    assert response.status_code == 200, response.content
    assert len(response.json()["messages"]) == 1  # not the default 100: the body counted


def test_a_chunked_event_is_stored(channel_api, world):
    body = json.dumps({**EVENT, "customer": {"external_id": "C123"}}).encode()
    response = _chunked(channel_api, "/api/v1/events/", body, terminated=True)
    assert response.status_code == 202, response.content
    from customers.models import Event

    assert Event.objects.filter(event_id="E1").exists()


def test_a_chunked_body_the_server_cannot_read_is_411_not_ignored(
    channel_api, three_due_sms, no_quiet_hours
):
    from decisioning.models import Message

    response = _chunked(channel_api, LEASE, b'{"max": 1}', terminated=False)
    error = assert_clean_error(response, 411)
    assert error["code"] == "length_required"
    assert not Message.objects.filter(status="leased").exists()


def test_a_chunked_body_over_one_mebibyte_is_413(channel_api):
    body = json.dumps({**EVENT, "payload": {"blob": "x" * (1024 * 1024)}}).encode()
    error = assert_clean_error(_chunked(channel_api, "/api/v1/events/", body, terminated=True), 413)
    assert error["code"] == "payload_too_large"


def test_an_empty_chunked_body_is_an_empty_body(channel_api):
    response = _chunked(channel_api, "/api/v1/events/", b"", terminated=True)
    error = assert_clean_error(response)
    assert error["code"] == "validation_error"  # the event's fields are missing


class InvalidChunkSize(Exception):
    """As gunicorn raises for badly framed chunks (its ParseException is no OSError)."""


@pytest.mark.parametrize("failure", [OSError("client went away"), InvalidChunkSize("zz")])
def test_a_chunked_body_that_breaks_off_is_400(channel_api, failure):
    class Broken(io.BytesIO):
        def read(self, *args):
            raise failure

    response = channel_api.http.generic(
        "POST",
        "/api/v1/events/",
        b"",
        **channel_api._headers(),
        CONTENT_TYPE="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": Broken(), "wsgi.input_terminated": True},
    )
    assert assert_clean_error(response)["code"] == "malformed_request"


@pytest.mark.parametrize("length", ["abc", "-1"])
def test_a_content_length_that_is_not_a_length_is_400(channel_api, length):
    response = channel_api.http.generic(
        "POST",
        "/api/v1/events/",
        b"",
        **channel_api._headers(),
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=length,
    )
    assert assert_clean_error(response)["code"] == "malformed_request"
