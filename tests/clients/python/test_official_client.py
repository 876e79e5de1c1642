"""Twilio's official Python helper library (PyPI `twilio`) against the verilens emulator.

scripts/test-clients.sh starts the emulator and sets these variables:

  EMULATOR_URL           base URL of the emulator, e.g. http://127.0.0.1:4210
  TWILIO_ACCOUNT_SID     account SID the emulator accepts
  TWILIO_AUTH_TOKEN      its auth token
  TWILIO_API_KEY_SID     API key SID (SK...) the emulator accepts
  TWILIO_API_KEY_SECRET  its secret

Expectations never come from numbers copied from a run: they come from the raw
API (urllib, no helper library) and from filtering a full dump of the attempts
locally, in this file.
"""

import base64
import json
import math
import os
from collections import Counter
from datetime import datetime, timezone
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


def _env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run scripts/test-clients.sh")
    return value


EMULATOR_URL = _env("EMULATOR_URL").rstrip("/")
ACCOUNT_SID = _env("TWILIO_ACCOUNT_SID")
AUTH_TOKEN = _env("TWILIO_AUTH_TOKEN")
API_KEY_SID = _env("TWILIO_API_KEY_SID")
API_KEY_SECRET = _env("TWILIO_API_KEY_SECRET")

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CHANNELS = ["sms", "whatsapp", "call", "email"]


# ---------------------------------------------------------------- raw HTTP


def raw_get(path_or_url, params=None, user=ACCOUNT_SID, password=AUTH_TOKEN):
    """GET through urllib alone; returns (status, parsed JSON body)."""
    url = path_or_url if path_or_url.startswith("http") else EMULATOR_URL + path_or_url
    if params:
        url += "?" + urlencode(params)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = Request(url, headers={"Authorization": f"Basic {token}", "Accept": "application/json"})
    try:
        with urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except HTTPError as error:
        return error.code, json.load(error)


def raw_list(params):
    """Every attempt of a filtered list, following next_page_url."""
    status, page = raw_get("/v2/Attempts", params)
    attempts = []
    while True:
        assert status == 200, page
        attempts.extend(page["attempts"])
        next_url = page["meta"]["next_page_url"]
        if not next_url:
            return attempts
        assert next_url.startswith(EMULATOR_URL + "/v2/Attempts?"), next_url
        status, page = raw_get(next_url)


def parse_time(text):
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)


def local_filter(attempts, country=None, channel=None, status=None, after=None, before=None,
                 to=None, prefix=None, verification_sid=None):
    """The attempts of a dump that a filter should select, as Twilio documents it
    (DateCreatedAfter inclusive, DateCreatedBefore exclusive)."""
    def keep(a):
        data = a["channel_data"] or {}
        created = parse_time(a["date_created"])
        return ((country is None or data.get("country") == country)
                and (channel is None or a["channel"] == channel)
                and (status is None or a["conversion_status"] == status)
                and (after is None or created >= after)
                and (before is None or created < before)
                and (to is None or data.get("to") == to)
                and (prefix is None or (data.get("to") or "").startswith(prefix))
                and (verification_sid is None or a["verification_sid"] == verification_sid))
    return [a for a in attempts if keep(a)]


# ---------------------------------------------------------------- fixtures


class RecordingHttpClient(TwilioHttpClient):
    """The library's own HTTP client, noting every URL it requests."""

    def __init__(self):
        super().__init__()
        self.requests = []

    def request(self, method, url, params=None, *args, **kwargs):
        self.requests.append((url, dict(params or {})))
        return super().request(method, url, params, *args, **kwargs)


def make_client(user=ACCOUNT_SID, password=AUTH_TOKEN, account_sid=None):
    http = RecordingHttpClient()
    client = Client(user, password, account_sid=account_sid, http_client=http)
    client.verify.base_url = EMULATOR_URL
    return client, http


@pytest.fixture
def client():
    return make_client()[0]


@pytest.fixture
def recorded():
    return make_client()


@pytest.fixture(scope="session")
def dump():
    """All visible attempts, through the raw API, newest first."""
    attempts = raw_list({"PageSize": 1000})
    assert len(attempts) > 1000, "the emulator should serve a few thousand attempts"
    assert len({a["sid"] for a in attempts}) == len(attempts)
    return attempts


@pytest.fixture(scope="session")
def picks(dump):
    """Filter values chosen from the data itself, so the tests follow any seed."""
    countries = Counter(a["channel_data"]["country"] for a in dump).most_common()
    country, second_country = countries[0][0], countries[1][0]
    # A window of roughly 180 attempts whose edges fall on real timestamps.
    newer, older = dump[len(dump) // 3], dump[len(dump) // 3 + 180]
    sms_in_country = [a for a in dump if a["channel"] == "sms" and a["channel_data"]["country"] == country]
    return {
        "country": country,
        "second_country": second_country,
        "before": parse_time(newer["date_created"]),
        "after": parse_time(older["date_created"]),
        "prefix": sms_in_country[0]["channel_data"]["to"][:5],
    }


def assert_same_attempt(instance, raw):
    """A library instance carries every field of the raw JSON, unchanged."""
    assert instance.sid == raw["sid"]
    assert instance.account_sid == raw["account_sid"] == ACCOUNT_SID
    assert instance.service_sid == raw["service_sid"]
    assert instance.verification_sid == raw["verification_sid"]
    assert instance.date_created == parse_time(raw["date_created"])
    assert instance.date_updated == parse_time(raw["date_updated"])
    assert instance.date_updated >= instance.date_created
    assert instance.conversion_status == raw["conversion_status"]
    assert instance.channel == raw["channel"]
    assert instance.price == raw["price"]
    assert instance.channel_data == raw["channel_data"]
    assert instance.url == raw["url"] == f"{EMULATOR_URL}/v2/Attempts/{raw['sid']}"


# ---------------------------------------------------------------- listing


def test_list_by_country_and_status_walks_pages_like_the_raw_api(recorded, dump):
    client, http = recorded
    # The most frequent (country, status) pair, so the walk spans many pages.
    (country, status), _ = Counter(
        (a["channel_data"]["country"], a["conversion_status"]) for a in dump).most_common(1)[0]
    expected = local_filter(dump, country=country, status=status)
    assert len(expected) > 150

    listed = client.verify.v2.verification_attempts.list(
        country=country, status=status, page_size=50, limit=400)

    assert len(listed) == min(400, len(expected))
    assert len({a.sid for a in listed}) == len(listed)
    for attempt in listed:
        assert attempt.channel_data["country"] == country
        assert attempt.conversion_status == status
    # Same attempts in the same order (newest first) as the unfiltered raw dump.
    assert [a.sid for a in listed] == [a["sid"] for a in expected[:len(listed)]]
    dates = [a.date_created for a in listed]
    assert dates == sorted(dates, reverse=True)
    # One request per page of 50; every later page came from the emulator's next_page_url.
    assert len(http.requests) == math.ceil(len(listed) / 50)
    first_url, first_params = http.requests[0]
    assert first_url == f"{EMULATOR_URL}/v2/Attempts"
    assert first_params["Country"] == country and first_params["Status"] == status
    for url, _ in http.requests[1:]:
        assert url.startswith(f"{EMULATOR_URL}/v2/Attempts?") and "PageToken=" in url
        assert f"Country={country}" in url and f"Status={status}" in url


@pytest.mark.parametrize("channel", CHANNELS)
def test_list_by_channel(client, dump, channel):
    expected = local_filter(dump, channel=channel)
    listed = client.verify.v2.verification_attempts.list(channel=channel, page_size=50, limit=400)
    assert len(listed) == min(400, len(expected))
    assert all(a.channel == channel for a in listed)
    assert len({a.sid for a in listed}) == len(listed)
    assert [a.sid for a in listed] == [a["sid"] for a in expected[:len(listed)]]


def test_list_by_date_window_includes_after_and_excludes_before(client, dump, picks):
    after, before = picks["after"], picks["before"]
    expected = local_filter(dump, after=after, before=before)
    assert len(expected) > 100

    listed = client.verify.v2.verification_attempts.list(
        date_created_after=after, date_created_before=before, page_size=50)

    assert [a.sid for a in listed] == [a["sid"] for a in expected]
    assert all(after <= a.date_created < before for a in listed)
    # The edges are real timestamps: DateCreatedAfter is inclusive, DateCreatedBefore exclusive.
    assert any(a.date_created == after for a in listed)
    assert any(parse_time(a["date_created"]) == before for a in dump)
    assert not any(a.date_created == before for a in listed)


def test_list_by_destination_and_by_verification(client, dump):
    attempt = next(a for a in dump if a["channel"] == "sms")
    to = attempt["channel_data"]["to"]
    by_to = client.verify.v2.verification_attempts.list(channel_data_to=to, page_size=50)
    assert [a.sid for a in by_to] == [a["sid"] for a in local_filter(dump, to=to)]
    assert attempt["sid"] in {a.sid for a in by_to}

    verification = attempt["verification_sid"]
    by_verification = client.verify.v2.verification_attempts.list(verification_sid=verification)
    assert [a.sid for a in by_verification] == [a["sid"] for a in local_filter(dump, verification_sid=verification)]
    assert all(a.channel_data["verification_sid"] == verification for a in by_verification)


def test_malformed_verification_sid_filter_lists_nothing(client):
    assert client.verify.v2.verification_attempts.list(verification_sid="VL_UNKNOWN_SID") == []


# ---------------------------------------------------------------- list counts == summary


FILTER_SETS = {
    "everything": (),
    "country": ("country",),
    "channel": ("channel",),
    "country+channel": ("second_country", "channel"),
    "window": ("window",),
    "country+channel+window": ("country", "channel", "window"),
}


@pytest.mark.parametrize("names", FILTER_SETS.values(), ids=FILTER_SETS.keys())
def test_listed_count_equals_summary_and_raw_api(client, dump, picks, names):
    lib, raw, local = {}, {}, {}
    if "country" in names or "second_country" in names:
        country = picks["country"] if "country" in names else picks["second_country"]
        lib["country"] = raw["Country"] = local["country"] = country
    if "channel" in names:
        lib["channel"] = raw["Channel"] = local["channel"] = "sms"
    if "window" in names:
        lib["date_created_after"], local["after"] = picks["after"], picks["after"]
        lib["date_created_before"], local["before"] = picks["before"], picks["before"]
        raw["DateCreatedAfter"] = picks["after"].strftime(TIME_FORMAT)
        raw["DateCreatedBefore"] = picks["before"].strftime(TIME_FORMAT)
    expected = local_filter(dump, **local)
    assert expected, f"the dataset has no attempt for {names}"

    listed = client.verify.v2.verification_attempts.list(page_size=1000, **lib)
    summary = client.verify.v2.verification_attempts_summary().fetch(**lib)
    status, raw_summary = raw_get("/v2/Attempts/Summary", raw)
    raw_listed = raw_list({**raw, "PageSize": 200})

    assert status == 200
    assert len(listed) == summary.total_attempts == raw_summary["total_attempts"] == len(raw_listed) == len(expected)
    assert len({a.sid for a in listed}) == len(listed)
    converted = sum(a.conversion_status == "converted" for a in listed)
    assert summary.total_converted == converted == raw_summary["total_converted"]
    assert summary.total_unconverted == len(listed) - converted
    assert isinstance(summary.conversion_rate_percentage, str)
    assert float(summary.conversion_rate_percentage) == pytest.approx(100 * converted / len(listed), abs=1e-6)
    assert summary.url == f"{EMULATOR_URL}/v2/Attempts/Summary"


# ---------------------------------------------------------------- summary


@pytest.mark.parametrize("names", [("prefix",), ("country", "channel", "prefix"), ("country", "channel")])
def test_summary_with_destination_prefix(client, dump, picks, names):
    lib, local = {}, {}
    if "country" in names:
        lib["country"] = local["country"] = picks["country"]
    if "channel" in names:
        lib["channel"] = local["channel"] = "sms"
    if "prefix" in names:
        lib["destination_prefix"] = local["prefix"] = picks["prefix"]
    expected = local_filter(dump, **local)
    assert expected

    summary = client.verify.v2.verification_attempts_summary().fetch(**lib)

    assert summary.total_attempts == len(expected)
    assert summary.total_converted == sum(a["conversion_status"] == "converted" for a in expected)
    assert summary.total_converted + summary.total_unconverted == summary.total_attempts
    assert float(summary.conversion_rate_percentage) == pytest.approx(
        100 * summary.total_converted / summary.total_attempts, abs=1e-6)


def test_summary_of_a_filter_matching_nothing_is_zero(client, dump, picks):
    # Before the oldest visible attempt there is nothing.
    oldest = parse_time(dump[-1]["date_created"])
    summary = client.verify.v2.verification_attempts_summary().fetch(date_created_before=oldest)
    assert (summary.total_attempts, summary.total_converted, summary.total_unconverted) == (0, 0, 0)
    assert float(summary.conversion_rate_percentage) == 0


# ---------------------------------------------------------------- fetch


def test_fetch_by_sid_returns_the_listed_attempt(client, dump):
    listed = client.verify.v2.verification_attempts.list(page_size=50, limit=150)
    assert len(listed) == 150
    # One attempt per channel present in the first pages, plus one from the third page.
    chosen = {a.channel: a for a in reversed(listed)}
    chosen["third page"] = listed[137]
    raw_by_sid = {a["sid"]: a for a in dump}
    for attempt in chosen.values():
        fetched = client.verify.v2.verification_attempts(attempt.sid).fetch()
        assert_same_attempt(fetched, raw_by_sid[attempt.sid])
        assert_same_attempt(attempt, raw_by_sid[attempt.sid])
        # The instance's own fetch() goes through its context too.
        assert attempt.fetch().channel_data == fetched.channel_data


@pytest.mark.parametrize("channel", CHANNELS)
def test_fetch_matches_raw_api_for_each_channel(client, dump, channel):
    raw = next((a for a in dump if a["channel"] == channel), None)
    if raw is None:
        pytest.skip(f"no {channel} attempt in this dataset")
    status, body = raw_get(f"/v2/Attempts/{raw['sid']}")
    assert status == 200 and body == raw
    assert_same_attempt(client.verify.v2.verification_attempts(raw["sid"]).fetch(), raw)


# ---------------------------------------------------------------- authentication


def test_api_key_and_secret_authenticate(client):
    key_client, _ = make_client(API_KEY_SID, API_KEY_SECRET, account_sid=ACCOUNT_SID)
    by_key = key_client.verify.v2.verification_attempts_summary().fetch()
    by_token = client.verify.v2.verification_attempts_summary().fetch()
    assert by_key.total_attempts == by_token.total_attempts > 0
    first = key_client.verify.v2.verification_attempts.list(limit=5)
    assert [a.sid for a in first] == [a.sid for a in client.verify.v2.verification_attempts.list(limit=5)]
    assert key_client.verify.v2.verification_attempts(first[0].sid).fetch().account_sid == ACCOUNT_SID


@pytest.mark.parametrize("user,password", [
    (ACCOUNT_SID, "wrong-token"),
    (API_KEY_SID, "wrong-secret"),
    ("AC" + "0" * 32, AUTH_TOKEN),
], ids=["wrong token", "wrong key secret", "unknown account"])
def test_wrong_credentials_raise_401_20003(dump, user, password):
    bad, _ = make_client(user, password, account_sid=ACCOUNT_SID)
    for call in (lambda: bad.verify.v2.verification_attempts(dump[0]["sid"]).fetch(),
                 lambda: bad.verify.v2.verification_attempts_summary().fetch()):
        with pytest.raises(TwilioRestException) as error:
            call()
        assert error.value.status == 401
        assert error.value.code == 20003
        assert "Authenticate" in error.value.msg


def test_wrong_token_on_list_is_a_401_page(dump):
    bad, _ = make_client(ACCOUNT_SID, "wrong-token")
    # twilio-python raises a plain TwilioException carrying the response for list pages.
    with pytest.raises(TwilioException) as error:
        bad.verify.v2.verification_attempts.list(limit=5)
    response = error.value.args[1]
    assert response.status_code == 401
    assert json.loads(response.text)["code"] == 20003


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("sid", ["VL" + "0" * 32, "VLffffffffffffffffffffffffffffffff", "VL_UNKNOWN_SID"])
def test_fetch_of_unknown_sid_raises_404_20404(client, dump, sid):
    assert sid not in {a["sid"] for a in dump}
    with pytest.raises(TwilioRestException) as error:
        client.verify.v2.verification_attempts(sid).fetch()
    assert error.value.status == 404
    assert error.value.code == 20404


@pytest.mark.parametrize("page_size", [5000, 1001])
def test_invalid_page_size_is_a_400_naming_page_size(client, page_size):
    with pytest.raises(TwilioException) as error:
        client.verify.v2.verification_attempts.list(page_size=page_size, limit=10)
    response = error.value.args[1]
    body = json.loads(response.text)
    assert response.status_code == 400
    assert body["code"] == 60200 and body["status"] == 400
    assert "PageSize" in body["message"]


@pytest.mark.parametrize("params,name", [
    ({"channel": "fax"}, "Channel"),
    ({"country": "Colombia"}, "Country"),
    ({"date_created_after": "yesterday"}, "DateCreatedAfter"),
])
def test_invalid_summary_filters_raise_400_naming_the_parameter(client, params, name):
    with pytest.raises(TwilioRestException) as error:
        client.verify.v2.verification_attempts_summary().fetch(**params)
    assert error.value.status == 400
    assert error.value.code == 60200
    assert name in error.value.msg


def test_invalid_status_on_list_is_a_400_naming_status(client):
    with pytest.raises(TwilioException) as error:
        client.verify.v2.verification_attempts.list(status="maybe", limit=5)
    response = error.value.args[1]
    assert response.status_code == 400
    assert "Status" in json.loads(response.text)["message"]


# ---------------------------------------------------------------- services


def test_services_list_every_service_of_the_attempts_with_a_name(client, dump):
    services = client.verify.v2.services.list(page_size=2)
    status, raw = raw_get("/v2/Services", {"PageSize": 1000})
    assert status == 200 and raw["meta"]["key"] == "services"
    assert [(s.sid, s.friendly_name) for s in services] == [
        (s["sid"], s["friendly_name"]) for s in raw["services"]
    ]
    assert {a["service_sid"] for a in dump} <= {s.sid for s in services}
    assert all(s.friendly_name and s.account_sid == ACCOUNT_SID for s in services)
    fetched = client.verify.v2.services(services[0].sid).fetch()
    assert (fetched.sid, fetched.friendly_name, fetched.code_length) == (
        services[0].sid, services[0].friendly_name, 6)
    with pytest.raises(TwilioRestException) as unknown:
        client.verify.v2.services("VA" + "0" * 32).fetch()
    assert unknown.value.status == 404
