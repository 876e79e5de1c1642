//! `/attempts.csv` over real HTTP on a real snapshot: every attempt of the view, not a page,
//! in chunks of `ROWS_PER_CHUNK` rows at most, with the same rows and totals as a
//! computation here from the attempts written; and the attempts list's pages in either order
//! hold the same attempts. On sqlite and on PostgreSQL.

use crate::common::{self, Backend};

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use common::dashboard;
use verilens::emulator::rng::Rng;
use verilens::export::ROWS_PER_CHUNK;
use verilens::filters::parse_query;
use verilens::model::{Attempt, Channel, ChannelData, ConversionStatus, Price, twilio_time};
use verilens::privacy::mask_destination;
use verilens::store::Store;

const ATTEMPTS: u64 = 5 * ROWS_PER_CHUNK as u64 + 321;

fn now() -> DateTime<Utc> {
    twilio_time::parse("2026-11-20T12:00:00Z").unwrap()
}

const MARKETS: [(&str, &str); 3] = [("CO", "+57300"), ("US", "+1555"), ("BR", "+55119")];

fn attempt(rng: &mut Rng, n: u64) -> Attempt {
    let (country, prefix) = MARKETS[rng.below(3) as usize];
    let channel = Channel::ALL[rng.below(Channel::ALL.len() as u64) as usize];
    let created = now() - Duration::seconds(rng.below(20 * 86_400) as i64);
    let currency = ["usd", "eur"][rng.below(2) as usize];
    let sid = format!("VL{n:032x}");
    Attempt {
        url: format!("https://verify.twilio.com/v2/Attempts/{sid}"),
        sid,
        account_sid: format!("AC{}", "a".repeat(32)),
        service_sid: format!("VA{}", "b".repeat(32)),
        verification_sid: format!("VE{:032x}", n / 2),
        date_created: created,
        date_updated: created,
        conversion_status: if rng.chance(0.6) { ConversionStatus::Converted } else { ConversionStatus::Unconverted },
        channel,
        price: rng.chance(0.9).then(|| Price {
            value: Some(format!("{:.4}", (1 + rng.below(900)) as f64 / 10_000.0)),
            currency: Some(currency.into()),
        }),
        channel_data: Some(ChannelData {
            to: Some(format!("{prefix}{:07}", rng.below(10_000_000))),
            country: Some(country.into()),
            carrier: Some(["=Tigo", "Claro"][rng.below(2) as usize].into()),
            ..ChannelData::default()
        }),
    }
}

/// A dashboard on a new store on `backend` holding `ATTEMPTS` attempts, and those attempts.
async fn serve(backend: Backend) -> (String, Store, Vec<Attempt>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.open(dir.path()).await;
    let mut rng = Rng::new(26);
    let attempts: Vec<Attempt> = (0..ATTEMPTS).map(|n| attempt(&mut rng, n)).collect();
    store.write_attempts(&attempts).await.unwrap();
    let served = dashboard::serve(store.clone(), |state| state.pinned_now = Some(now())).await;
    (served.base, store, attempts, dir)
}

/// What the CSV must hold, from the attempts written: sid, date, channel, country, masked
/// destination, status, price and currency (upper case), newest first.
type Row = (String, String, String, String, String, String, Option<f64>, String);

fn expected_rows(attempts: &[Attempt], query: &str) -> Vec<Row> {
    let filters = parse_query(query).filters;
    let (start, end) = filters.range.bounds(now());
    let admits = |values: &[String], value: &str| values.is_empty() || values.iter().any(|v| v == value);
    let mut rows: Vec<Row> = attempts
        .iter()
        .filter(|a| a.date_created >= start && a.date_created < end)
        .map(|a| {
            let data = a.channel_data.as_ref().unwrap();
            let (country, to) = (data.country.clone().unwrap(), data.to.clone().unwrap());
            let price = a.price.as_ref().and_then(|p| p.value.as_deref()).map(|v| v.parse::<f64>().unwrap());
            let currency =
                a.price.as_ref().and_then(|p| p.currency.as_deref()).unwrap_or_default().to_ascii_uppercase();
            let created = twilio_time::format(&a.date_created);
            (a.sid.clone(), created, a.channel.as_str().to_string(), country, to, a.conversion_status, price, currency)
        })
        .filter(|(_, _, channel, country, to, status, _, _)| {
            admits(&filters.countries, country)
                && admits(&filters.channels.iter().map(|c| c.as_str().to_string()).collect::<Vec<_>>(), channel)
                && filters.status.is_none_or(|s| s == *status)
                && filters.prefix.as_deref().is_none_or(|p| to.starts_with(p))
        })
        .map(|(sid, created, channel, country, to, status, price, unit)| {
            (sid, created, channel, country, mask_destination(&to), status.as_str().to_string(), price, unit)
        })
        .collect();
    rows.sort_by(|a, b| (&b.1, &b.0).cmp(&(&a.1, &a.0)));
    rows
}

fn parse_csv(text: &str) -> Vec<Row> {
    let mut lines = text.split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        "sid,date_created,channel,country,carrier,to,conversion_status,message_status,call_status,error_code,price,price_unit,verification_sid,service_sid,service_name,account_sid,account_name"
    );
    lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 17, "{line}");
            assert!(cells.iter().all(|c| !c.starts_with(['=', '+', '-', '@'])), "formula-safe: {line}");
            let to = cells[5].strip_prefix('\'').unwrap_or(cells[5]);
            let price = (!cells[10].is_empty()).then(|| cells[10].parse().unwrap());
            let row = [cells[0], cells[1], cells[2], cells[3], to, cells[6]].map(str::to_string);
            let [sid, created, channel, country, to, status] = row;
            (sid, created, channel, country, to, status, price, cells[11].to_string())
        })
        .collect()
}

fn spend(rows: &[Row]) -> BTreeMap<String, f64> {
    let mut spend = BTreeMap::new();
    for (_, _, _, _, _, _, price, currency) in rows {
        *spend.entry(currency.clone()).or_default() += price.unwrap_or(0.0);
    }
    spend
}

#[tokio::test]
async fn the_attempts_csv_holds_every_attempt_of_the_view_in_bounded_chunks() {
    for backend in Backend::ALL {
        the_attempts_csv_in_bounded_chunks(backend).await;
    }
}

async fn the_attempts_csv_in_bounded_chunks(backend: Backend) {
    let (base, _store, attempts, _dir) = serve(backend).await;
    let views =
        ["", "range=7d", "from=2026-11-12&to=2026-11-14", "country=CO&channel=sms", "prefix=%2B57300&status=converted"];
    for view in views {
        let mut response = reqwest::get(format!("{base}/attempts.csv?{view}")).await.unwrap();
        assert_eq!(response.status(), 200, "{view}");
        assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
        let mut body = Vec::new();
        let mut frames = 0;
        while let Some(frame) = response.chunk().await.unwrap() {
            // hyper sends each chunk the server encodes as one HTTP chunk, and never hands
            // the client two of them in one frame: no frame may hold more than a chunk's rows.
            let rows = frame.iter().filter(|b| **b == b'\n').count();
            assert!(rows <= ROWS_PER_CHUNK + 1, "{view}: a frame of {rows} rows");
            frames += 1;
            body.extend_from_slice(&frame);
        }
        let got = parse_csv(&String::from_utf8(body).unwrap());
        let expected = expected_rows(&attempts, view);
        assert!(frames > expected.len() / ROWS_PER_CHUNK, "{view}: {frames} frames for {} rows", expected.len());
        assert_eq!(got.len(), expected.len(), "{view}: rows");
        assert_eq!(got, expected, "{view}: the same attempts, newest first, masked");
        let (got_spend, expected_spend) = (spend(&got), spend(&expected));
        assert_eq!(got_spend.keys().collect::<Vec<_>>(), expected_spend.keys().collect::<Vec<_>>(), "{view}");
        for (currency, amount) in &expected_spend {
            assert!((got_spend[currency] - amount).abs() < 1e-9, "{view}: {currency} {amount}");
        }
    }
    let all = expected_rows(&attempts, "");
    assert_eq!(all.len() as u64, ATTEMPTS, "the default view holds every attempt, well past one page of 50");
}

/// Following "Older attempts" from the first page of the list, priciest first, meets every
/// attempt of the view once, in order: prices that tie (of 900 values, over 5,000 attempts)
/// and unpriced attempts included.
#[tokio::test]
async fn the_attempts_list_by_price_pages_through_every_attempt_once_in_order() {
    for backend in Backend::ALL {
        the_attempts_list_by_price(backend).await;
    }
}

async fn the_attempts_list_by_price(backend: Backend) {
    let (_base, store, attempts, _dir) = serve(backend).await;
    let state = dashboard::state(store, "127.0.0.1:1".parse().unwrap(), |s| s.pinned_now = Some(now()));
    for view in ["", "country=CO&channel=sms", "from=2026-11-12&to=2026-11-14&status=converted"] {
        let mut expected = expected_rows(&attempts, view);
        // Newest first already; a stable sort by price keeps that order within a price.
        expected.sort_by(|a, b| match (a.6, b.6) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (x, y) => y.is_some().cmp(&x.is_some()),
        });
        let want: Vec<(String, Option<f64>)> = expected.into_iter().map(|r| (r.0, r.6)).collect();
        assert!(want.iter().any(|r| r.1.is_none()) && want.len() > 100, "{view}: several pages, some unpriced");
        let mut got = Vec::new();
        let mut query = format!("{view}&order=price");
        loop {
            let list = verilens::views::load_attempts(&state, &query).await.unwrap();
            assert!(list.notices.is_empty(), "{query}: {:?}", list.notices);
            got.extend(list.attempts.iter().map(|a| (a.sid.clone(), a.price)));
            match list.next_page {
                Some(page) => query = format!("{view}&order=price&page={page}"),
                None => break,
            }
        }
        assert_eq!(got, want, "{view}: every attempt once, priciest first, unpriced last, newest first within a price");
    }
}

#[tokio::test]
async fn an_invalid_attempts_csv_query_is_a_400_naming_it() {
    let (base, _store, _attempts, _dir) = serve(Backend::Sqlite).await;
    let response = reqwest::get(format!("{base}/attempts.csv?range=year")).await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("range"));
}
