//! Pure chart builders: dashboard data in, ECharts options out.

use charming::Chart;
use charming::component::{Axis, Grid, Title};
use charming::element::{AxisType, Color, Tooltip, Trigger};
use charming::series::Bar;

use crate::report::CountryRow;

/// Conversion rate per country, one bar each, in the table's order.
pub fn conversion_by_country(rows: &[CountryRow]) -> Chart {
    let countries: Vec<String> = rows.iter().map(|r| r.country.clone()).collect();
    let rates: Vec<f64> =
        rows.iter().map(|r| (r.conversion.rate_percent().unwrap_or(0.0) * 10.0).round() / 10.0).collect();
    Chart::new()
        // Still charts: the numbers are what matters, and motion distracts.
        .animation(false)
        .color(vec![Color::from("#0b62d6")])
        .title(Title::new().text("Conversion rate by country (%)"))
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .grid(Grid::new().left("40").right("16").bottom("32"))
        .x_axis(Axis::new().type_(AxisType::Category).data(countries))
        .y_axis(Axis::new().type_(AxisType::Value).max(100))
        .series(Bar::new().name("Conversion rate").data(rates))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Conversion;

    #[test]
    fn bars_follow_the_rows() {
        let rows = vec![
            CountryRow { country: "US".into(), conversion: Conversion { attempts: 8, converted: 6 } },
            CountryRow { country: "CO".into(), conversion: Conversion { attempts: 3, converted: 1 } },
        ];
        let json = serde_json::to_value(conversion_by_country(&rows)).unwrap();
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["US", "CO"]));
        assert_eq!(json["series"][0]["data"], serde_json::json!([75.0, 33.3]));
    }
}
