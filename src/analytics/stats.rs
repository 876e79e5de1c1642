//! Confidence intervals and significance tests for conversion rates.

const Z95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval (95%) of `successes` out of `trials`, as fractions.
pub fn wilson_interval(successes: u64, trials: u64) -> Option<(f64, f64)> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(((center - half).max(0.0), (center + half).min(1.0)))
}

/// The two-sided p-value of a two-proportion z-test (pooled variance).
pub fn two_proportion_p_value(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    if se == 0.0 {
        return Some(1.0);
    }
    let z = (x1 as f64 / n1f - x2 as f64 / n2f) / se;
    Some(libm::erfc(z.abs() / std::f64::consts::SQRT_2))
}

/// Benjamini–Hochberg adjusted p-values (step-up), in the order given: the tests whose adjusted
/// p-value is at most `q` are the discoveries at a false discovery rate of `q`.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let tests = p_values.len() as f64;
    let mut ranked: Vec<usize> = (0..p_values.len()).collect();
    ranked.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![1.0; p_values.len()];
    let mut smallest_above = 1.0_f64;
    for (rank, &i) in ranked.iter().enumerate().rev() {
        smallest_above = smallest_above.min(p_values[i] * tests / (rank + 1) as f64);
        adjusted[i] = smallest_above;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() < tolerance
    }

    #[test]
    fn wilson_matches_published_values() {
        // 81 of 263: (0.2553, 0.3662), the worked example in Newcombe (1998).
        let (low, high) = wilson_interval(81, 263).unwrap();
        assert!(close(low, 0.2553, 5e-4) && close(high, 0.3662, 5e-4), "{low} {high}");
        let (low, high) = wilson_interval(0, 10).unwrap();
        assert!(close(low, 0.0, 1e-12) && close(high, 0.2775, 5e-4), "{low} {high}");
        assert_eq!(wilson_interval(0, 0), None);
    }

    #[test]
    fn z_test_matches_known_values() {
        // 45/100 vs 30/100: pooled z = 2.1909, p = 0.02846.
        let p = two_proportion_p_value(45, 100, 30, 100).unwrap();
        assert!(close(p, 0.02846, 5e-5), "{p}");
        let same = two_proportion_p_value(50, 100, 50, 100).unwrap();
        assert!(close(same, 1.0, 1e-6), "{same}");
        assert!(two_proportion_p_value(500, 1000, 560, 1000).unwrap() < 0.01);
        assert_eq!(two_proportion_p_value(1, 0, 1, 1), None);
    }

    #[test]
    fn benjamini_hochberg_matches_the_papers_example() {
        // The 15 p-values of Benjamini & Hochberg (1995), section 4: at q = 0.05 the
        // procedure rejects the four smallest, where Bonferroni rejects three.
        let p = [
            0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528,
            0.7590, 1.0000,
        ];
        let adjusted = benjamini_hochberg(&p);
        let discoveries: Vec<usize> = (0..p.len()).filter(|&i| adjusted[i] <= 0.05).collect();
        assert_eq!(discoveries, vec![0, 1, 2, 3]);
        for (i, want) in [(0, 0.0015), (1, 0.003), (2, 0.0095), (3, 0.035_625), (4, 0.0603), (14, 1.0)] {
            assert!(close(adjusted[i], want, 1e-9), "{i}: {} against {want}", adjusted[i]);
        }
        assert!(adjusted.windows(2).all(|w| w[0] <= w[1]), "monotone in the p-values: {adjusted:?}");
    }

    #[test]
    fn benjamini_hochberg_keeps_the_order_given() {
        let adjusted = benjamini_hochberg(&[0.04, 0.01, 0.03]);
        assert!(close(adjusted[0], 0.04, 1e-12) && close(adjusted[1], 0.03, 1e-12) && close(adjusted[2], 0.04, 1e-12));
        assert!(benjamini_hochberg(&[]).is_empty());
        assert!(close(benjamini_hochberg(&[0.2])[0], 0.2, 1e-12));
    }
}
