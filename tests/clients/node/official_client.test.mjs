// Twilio's official Node.js helper library (npm `twilio`) against the verilens emulator.
//
// scripts/test-clients.sh starts the emulator and sets these variables:
//
//   EMULATOR_URL           base URL of the emulator, e.g. http://127.0.0.1:4210
//   TWILIO_ACCOUNT_SID     account SID the emulator accepts
//   TWILIO_AUTH_TOKEN      its auth token
//   TWILIO_API_KEY_SID     API key SID (SK...) the emulator accepts
//   TWILIO_API_KEY_SECRET  its secret
//
// Expectations never come from numbers copied from a run: they come from the raw
// API (node's fetch, no helper library) and from filtering a full dump of the
// attempts locally, in this file.

import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import twilio from "twilio";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run scripts/test-clients.sh`);
  return value;
}

const EMULATOR_URL = env("EMULATOR_URL").replace(/\/+$/, "");
const ACCOUNT_SID = env("TWILIO_ACCOUNT_SID");
const AUTH_TOKEN = env("TWILIO_AUTH_TOKEN");
const API_KEY_SID = env("TWILIO_API_KEY_SID");
const API_KEY_SECRET = env("TWILIO_API_KEY_SECRET");

const CHANNELS = ["sms", "whatsapp", "call", "email"];

// ------------------------------------------------------------------ raw HTTP

async function rawGet(pathOrUrl, params = {}, user = ACCOUNT_SID, password = AUTH_TOKEN) {
  const url = new URL(pathOrUrl.startsWith("http") ? pathOrUrl : EMULATOR_URL + pathOrUrl);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const auth = Buffer.from(`${user}:${password}`).toString("base64");
  const response = await fetch(url, { headers: { Authorization: `Basic ${auth}`, Accept: "application/json" } });
  return { status: response.status, body: await response.json() };
}

async function rawList(params) {
  let { status, body } = await rawGet("/v2/Attempts", params);
  const attempts = [];
  for (;;) {
    assert.equal(status, 200, JSON.stringify(body));
    attempts.push(...body.attempts);
    const next = body.meta.next_page_url;
    if (!next) return attempts;
    assert.ok(next.startsWith(`${EMULATOR_URL}/v2/Attempts?`), next);
    ({ status, body } = await rawGet(next));
  }
}

const time = (text) => new Date(text).getTime();

// The attempts of a dump that a filter should select, as Twilio documents it
// (DateCreatedAfter inclusive, DateCreatedBefore exclusive).
function localFilter(attempts, f = {}) {
  return attempts.filter((a) => {
    const data = a.channel_data ?? {};
    const created = time(a.date_created);
    return (
      (f.country === undefined || data.country === f.country) &&
      (f.channel === undefined || a.channel === f.channel) &&
      (f.status === undefined || a.conversion_status === f.status) &&
      (f.after === undefined || created >= f.after.getTime()) &&
      (f.before === undefined || created < f.before.getTime()) &&
      (f.to === undefined || data.to === f.to) &&
      (f.prefix === undefined || (data.to ?? "").startsWith(f.prefix)) &&
      (f.verificationSid === undefined || a.verification_sid === f.verificationSid)
    );
  });
}

function mostCommon(values) {
  const counts = new Map();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((x, y) => y[1] - x[1]).map(([v]) => v);
}

// ------------------------------------------------------------------ clients

// The library's own HTTP client, noting every URL it requests.
class RecordingRequestClient extends twilio.RequestClient {
  requests = [];
  request(opts) {
    this.requests.push({ uri: opts.uri, params: { ...opts.params } });
    return super.request(opts);
  }
}

function makeClient(user = ACCOUNT_SID, password = AUTH_TOKEN, opts = {}) {
  const httpClient = new RecordingRequestClient();
  const client = twilio(user, password, { ...opts, httpClient });
  client.verify.baseUrl = EMULATOR_URL;
  return { client, http: httpClient };
}

const attempts = (client) => client.verify.v2.verificationAttempts;
const summaryOf = (client, params = {}) => client.verify.v2.verificationAttemptsSummary().fetch(params);

// Awaits a call that must fail with a RestException.
async function restError(call) {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof twilio.RestException, `expected a RestException, got ${error}`);
    return error;
  }
  assert.fail("the call succeeded");
}

// A library instance carries every field of the raw JSON, unchanged.
function assertSameAttempt(instance, raw) {
  assert.equal(instance.sid, raw.sid);
  assert.equal(instance.accountSid, raw.account_sid);
  assert.equal(instance.accountSid, ACCOUNT_SID);
  assert.equal(instance.serviceSid, raw.service_sid);
  assert.equal(instance.verificationSid, raw.verification_sid);
  assert.ok(instance.dateCreated instanceof Date);
  assert.equal(instance.dateCreated.getTime(), time(raw.date_created));
  assert.equal(instance.dateUpdated.getTime(), time(raw.date_updated));
  assert.ok(instance.dateUpdated >= instance.dateCreated);
  assert.equal(instance.conversionStatus, raw.conversion_status);
  assert.equal(instance.channel, raw.channel);
  assert.deepEqual(instance.price, raw.price);
  assert.deepEqual(instance.channelData, raw.channel_data);
  assert.equal(instance.url, raw.url);
  assert.equal(instance.url, `${EMULATOR_URL}/v2/Attempts/${raw.sid}`);
}

const sids = (list) => list.map((a) => a.sid);

// ------------------------------------------------------------------ tests

let dump; // every visible attempt, newest first, through the raw API
let picks; // filter values chosen from the data itself, so the tests follow any seed

before(async () => {
  dump = await rawList({ PageSize: 1000 });
  assert.ok(dump.length > 1000, "the emulator should serve a few thousand attempts");
  assert.equal(new Set(sids(dump)).size, dump.length);
  const countries = mostCommon(dump.map((a) => a.channel_data.country));
  const third = Math.floor(dump.length / 3);
  const country = countries[0];
  picks = {
    country,
    secondCountry: countries[1],
    // A window of roughly 180 attempts whose edges fall on real timestamps.
    before: new Date(dump[third].date_created),
    after: new Date(dump[third + 180].date_created),
    prefix: dump.find((a) => a.channel === "sms" && a.channel_data.country === country).channel_data.to.slice(0, 5),
  };
});

describe("listing", () => {
  test("country + status across pages matches the raw API", async () => {
    const { client, http } = makeClient();
    const [pair] = mostCommon(dump.map((a) => `${a.channel_data.country}/${a.conversion_status}`));
    const [country, status] = pair.split("/");
    const expected = localFilter(dump, { country, status });
    assert.ok(expected.length > 150);

    const listed = await attempts(client).list({ country, status, pageSize: 50, limit: 400 });

    assert.equal(listed.length, Math.min(400, expected.length));
    assert.equal(new Set(sids(listed)).size, listed.length);
    for (const a of listed) {
      assert.equal(a.channelData.country, country);
      assert.equal(a.conversionStatus, status);
    }
    assert.deepEqual(sids(listed), sids(expected.slice(0, listed.length)));
    // One request per page of 50; every later page came from the emulator's next_page_url.
    assert.equal(http.requests.length, Math.ceil(listed.length / 50));
    assert.equal(http.requests[0].uri, `${EMULATOR_URL}/v2/Attempts`);
    assert.equal(http.requests[0].params.Country, country);
    assert.equal(http.requests[0].params.Status, status);
    for (const { uri } of http.requests.slice(1)) {
      const url = new URL(uri);
      assert.equal(url.origin + url.pathname, `${EMULATOR_URL}/v2/Attempts`);
      assert.ok(url.searchParams.get("PageToken"));
      assert.equal(url.searchParams.get("Country"), country);
      assert.equal(url.searchParams.get("Status"), status);
    }
  });

  for (const channel of CHANNELS) {
    test(`channel ${channel}`, async () => {
      const { client } = makeClient();
      const expected = localFilter(dump, { channel });
      const listed = await attempts(client).list({ channel, pageSize: 50, limit: 400 });
      assert.equal(listed.length, Math.min(400, expected.length));
      assert.ok(listed.every((a) => a.channel === channel));
      assert.deepEqual(sids(listed), sids(expected.slice(0, listed.length)));
    });
  }

  test("each() walks a date window: after inclusive, before exclusive", async () => {
    const { client } = makeClient();
    const { after, before } = picks;
    const expected = localFilter(dump, { after, before });
    assert.ok(expected.length > 100);

    const seen = [];
    await attempts(client).each({ dateCreatedAfter: after, dateCreatedBefore: before, pageSize: 50 }, (a) => {
      seen.push(a);
    });

    assert.deepEqual(sids(seen), sids(expected));
    assert.ok(seen.every((a) => a.dateCreated >= after && a.dateCreated < before));
    assert.ok(seen.some((a) => a.dateCreated.getTime() === after.getTime()));
    assert.ok(dump.some((a) => time(a.date_created) === before.getTime()));
    assert.ok(!seen.some((a) => a.dateCreated.getTime() === before.getTime()));
  });

  test("ChannelData.To and VerificationSid filters", async () => {
    const { client } = makeClient();
    const attempt = dump.find((a) => a.channel === "sms");
    const to = attempt.channel_data.to;
    const byTo = await attempts(client).list({ "channelData.to": to, pageSize: 50 });
    assert.deepEqual(sids(byTo), sids(localFilter(dump, { to })));
    assert.ok(sids(byTo).includes(attempt.sid));

    const verificationSid = attempt.verification_sid;
    const byVerification = await attempts(client).list({ verificationSid });
    assert.deepEqual(sids(byVerification), sids(localFilter(dump, { verificationSid })));
  });

  test("a malformed VerificationSid filter lists nothing", async () => {
    const { client } = makeClient();
    assert.deepEqual(await attempts(client).list({ verificationSid: "VL_UNKNOWN_SID" }), []);
  });

  test("page() exposes the emulator's absolute page URLs", async () => {
    const { client } = makeClient();
    const first = await attempts(client).page({ pageSize: 20 });
    assert.deepEqual(sids(first.instances), sids(dump.slice(0, 20)));
    assert.ok(first.nextPageUrl.startsWith(`${EMULATOR_URL}/v2/Attempts?`));
    const second = await first.nextPage();
    assert.deepEqual(sids(second.instances), sids(dump.slice(20, 40)));
    const back = await second.previousPage();
    assert.deepEqual(sids(back.instances), sids(dump.slice(0, 20)));
  });
});

describe("list counts equal the summary", () => {
  const sets = {
    everything: [],
    country: ["country"],
    channel: ["channel"],
    "country+channel": ["secondCountry", "channel"],
    window: ["window"],
    "country+channel+window": ["country", "channel", "window"],
  };
  for (const [label, names] of Object.entries(sets)) {
    test(label, async () => {
      const { client } = makeClient();
      const lib = {};
      const raw = {};
      const local = {};
      if (names.includes("country") || names.includes("secondCountry")) {
        lib.country = raw.Country = local.country = names.includes("country") ? picks.country : picks.secondCountry;
      }
      if (names.includes("channel")) lib.channel = raw.Channel = local.channel = "sms";
      if (names.includes("window")) {
        lib.dateCreatedAfter = local.after = picks.after;
        lib.dateCreatedBefore = local.before = picks.before;
        raw.DateCreatedAfter = picks.after.toISOString().replace(/\.\d+Z$/, "Z");
        raw.DateCreatedBefore = picks.before.toISOString().replace(/\.\d+Z$/, "Z");
      }
      const expected = localFilter(dump, local);
      assert.ok(expected.length > 0, `the dataset has no attempt for ${label}`);

      const listed = await attempts(client).list({ ...lib, pageSize: 1000 });
      const summary = await summaryOf(client, lib);
      const rawSummary = await rawGet("/v2/Attempts/Summary", raw);
      const rawListed = await rawList({ ...raw, PageSize: 200 });

      assert.equal(rawSummary.status, 200);
      assert.equal(listed.length, expected.length);
      assert.equal(summary.totalAttempts, listed.length);
      assert.equal(rawSummary.body.total_attempts, listed.length);
      assert.equal(rawListed.length, listed.length);
      assert.equal(new Set(sids(listed)).size, listed.length);
      const converted = listed.filter((a) => a.conversionStatus === "converted").length;
      assert.equal(summary.totalConverted, converted);
      assert.equal(rawSummary.body.total_converted, converted);
      assert.equal(summary.totalUnconverted, listed.length - converted);
      assert.equal(typeof summary.conversionRatePercentage, "string");
      assert.ok(Math.abs(Number(summary.conversionRatePercentage) - (100 * converted) / listed.length) < 1e-6);
      assert.equal(summary.url, `${EMULATOR_URL}/v2/Attempts/Summary`);
    });
  }
});

describe("summary", () => {
  for (const names of [["prefix"], ["country", "channel", "prefix"], ["country", "channel"]]) {
    test(`filtered by ${names.join(" + ")}`, async () => {
      const { client } = makeClient();
      const lib = {};
      const local = {};
      if (names.includes("country")) lib.country = local.country = picks.country;
      if (names.includes("channel")) lib.channel = local.channel = "sms";
      if (names.includes("prefix")) lib.destinationPrefix = local.prefix = picks.prefix;
      const expected = localFilter(dump, local);
      assert.ok(expected.length > 0);

      const summary = await summaryOf(client, lib);

      assert.equal(summary.totalAttempts, expected.length);
      assert.equal(summary.totalConverted, expected.filter((a) => a.conversion_status === "converted").length);
      assert.equal(summary.totalConverted + summary.totalUnconverted, summary.totalAttempts);
      const rate = (100 * summary.totalConverted) / summary.totalAttempts;
      assert.ok(Math.abs(Number(summary.conversionRatePercentage) - rate) < 1e-6);
    });
  }

  test("a filter matching nothing sums to zero", async () => {
    const { client } = makeClient();
    const oldest = new Date(dump.at(-1).date_created);
    const summary = await summaryOf(client, { dateCreatedBefore: oldest });
    assert.deepEqual([summary.totalAttempts, summary.totalConverted, summary.totalUnconverted], [0, 0, 0]);
    assert.equal(Number(summary.conversionRatePercentage), 0);
  });
});

describe("fetch", () => {
  test("by SID returns the listed attempt", async () => {
    const { client } = makeClient();
    const listed = await attempts(client).list({ pageSize: 50, limit: 150 });
    assert.equal(listed.length, 150);
    const chosen = new Map();
    for (const a of listed) if (!chosen.has(a.channel)) chosen.set(a.channel, a);
    chosen.set("third page", listed[137]);
    const rawBySid = new Map(dump.map((a) => [a.sid, a]));
    for (const attempt of chosen.values()) {
      const fetched = await attempts(client)(attempt.sid).fetch();
      assertSameAttempt(fetched, rawBySid.get(attempt.sid));
      assertSameAttempt(attempt, rawBySid.get(attempt.sid));
      // No attempt.fetch() here: twilio-node 6.2.0 builds listed instances without
      // their SID in the path solution, so it throws "Parameter 'sid' is not valid."
      assert.deepEqual((await fetched.fetch()).channelData, fetched.channelData);
    }
  });

  for (const channel of CHANNELS) {
    test(`matches the raw API for a ${channel} attempt`, async (t) => {
      const raw = dump.find((a) => a.channel === channel);
      if (!raw) return t.skip(`no ${channel} attempt in this dataset`);
      const { client } = makeClient();
      const direct = await rawGet(`/v2/Attempts/${raw.sid}`);
      assert.equal(direct.status, 200);
      assert.deepEqual(direct.body, raw);
      assertSameAttempt(await attempts(client).get(raw.sid).fetch(), raw);
    });
  }
});

describe("authentication", () => {
  test("API key and secret authenticate", async () => {
    const { client: keyClient } = makeClient(API_KEY_SID, API_KEY_SECRET, { accountSid: ACCOUNT_SID });
    const { client } = makeClient();
    const byKey = await summaryOf(keyClient);
    const byToken = await summaryOf(client);
    assert.ok(byKey.totalAttempts > 0);
    assert.equal(byKey.totalAttempts, byToken.totalAttempts);
    const first = await attempts(keyClient).list({ limit: 5 });
    assert.deepEqual(sids(first), sids(await attempts(client).list({ limit: 5 })));
    assert.equal((await attempts(keyClient)(first[0].sid).fetch()).accountSid, ACCOUNT_SID);
  });

  const wrong = {
    "wrong token": [ACCOUNT_SID, "wrong-token"],
    "wrong key secret": [API_KEY_SID, "wrong-secret"],
    "unknown account": ["AC" + "0".repeat(32), AUTH_TOKEN],
  };
  for (const [label, [user, password]] of Object.entries(wrong)) {
    test(`${label}: 401 with code 20003 on fetch, summary and list`, async () => {
      const { client } = makeClient(user, password, { accountSid: ACCOUNT_SID });
      for (const call of [
        () => attempts(client)(dump[0].sid).fetch(),
        () => summaryOf(client),
        () => attempts(client).list({ limit: 5 }),
      ]) {
        const error = await restError(call);
        assert.equal(error.status, 401);
        assert.equal(error.code, 20003);
        assert.equal(error.message, "Authenticate");
        assert.equal(error.moreInfo, "https://www.twilio.com/docs/errors/20003");
      }
    });
  }
});

describe("errors", () => {
  for (const sid of ["VL" + "0".repeat(32), "VL" + "f".repeat(32), "VL_UNKNOWN_SID"]) {
    test(`fetch of unknown SID ${sid} is a 404 with code 20404`, async () => {
      assert.ok(!dump.some((a) => a.sid === sid));
      const { client } = makeClient();
      const error = await restError(() => attempts(client)(sid).fetch());
      assert.equal(error.status, 404);
      assert.equal(error.code, 20404);
    });
  }

  for (const pageSize of [5000, 1001]) {
    test(`pageSize ${pageSize} is a 400 naming PageSize`, async () => {
      const { client } = makeClient();
      const error = await restError(() => attempts(client).list({ pageSize, limit: 10 }));
      assert.equal(error.status, 400);
      assert.equal(error.code, 60200);
      assert.match(error.message, /PageSize/);
    });
  }

  test("an unknown status on the list is a 400 naming Status", async () => {
    const { client } = makeClient();
    const error = await restError(() => attempts(client).list({ status: "maybe", limit: 5 }));
    assert.equal(error.status, 400);
    assert.match(error.message, /Status/);
  });

  for (const [params, name] of [
    [{ channel: "fax" }, "Channel"],
    [{ country: "Colombia" }, "Country"],
    [{ dateCreatedAfter: "yesterday" }, "DateCreatedAfter"],
  ]) {
    test(`summary with a bad ${name} is a 400 naming it`, async () => {
      const { client } = makeClient();
      const error = await restError(() => summaryOf(client, params));
      assert.equal(error.status, 400);
      assert.equal(error.code, 60200);
      assert.match(error.message, new RegExp(name));
    });
  }
});

describe("services", () => {
  test("list (across pages) and fetch name every service the attempts use", async () => {
    const { client } = makeClient();
    const services = await client.verify.v2.services.list({ pageSize: 2 });
    const raw = await rawGet("/v2/Services", { PageSize: 1000 });
    assert.deepEqual(
      services.map((s) => [s.sid, s.friendlyName]),
      raw.body.services.map((s) => [s.sid, s.friendly_name]),
    );
    const used = new Set(dump.map((a) => a.service_sid));
    for (const sid of used) assert.ok(services.some((s) => s.sid === sid), sid);
    const fetched = await client.verify.v2.services(services[0].sid).fetch();
    assert.equal(fetched.friendlyName, services[0].friendlyName);
    const missing = await restError(() => client.verify.v2.services("VA" + "0".repeat(32)).fetch());
    assert.equal(missing.status, 404);
  });
});
