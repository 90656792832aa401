use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::suppression::{cross_sums, suppress};
use crate::vocab::County;

/// A count, or `null` with `suppressed: true` when it is withheld from the caller (a small count,
/// or one that would give a small count away).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Figure {
    pub count: Option<i64>,
    pub suppressed: bool,
}

impl Figure {
    fn new(count: i64, hidden: bool) -> Self {
        Figure {
            count: (!hidden).then_some(count),
            suppressed: hidden,
        }
    }
}

/// One count of a one-way table.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cell {
    /// The value counted (a vocabulary value, e.g. a status).
    pub key: String,
    pub count: Option<i64>,
    pub suppressed: bool,
}

/// Counts by one attribute, every value of its vocabulary listed (zeros too), with the total.
#[derive(Debug, Serialize, ToSchema)]
pub struct Table {
    pub cells: Vec<Cell>,
    pub total: Figure,
}

impl Table {
    /// A table of `counts` over `keys` (a key not counted is 0), suppressed with `k`;
    /// `keep_total`: the total is published elsewhere, so it is never withheld to protect a cell.
    pub fn build(keys: &[&str], counts: &[(String, i64)], keep_total: bool, k: u32) -> Self {
        let mut values: Vec<i64> = keys
            .iter()
            .map(|key| counts.iter().filter(|(c, _)| c == key).map(|(_, n)| n).sum())
            .collect();
        values.push(values.iter().sum());
        let sums = vec![(0..values.len()).collect()];
        let mut keep = vec![false; values.len()];
        keep[keys.len()] = keep_total;
        let hidden = suppress(&values, &sums, &keep, k);
        Table {
            cells: keys
                .iter()
                .enumerate()
                .map(|(i, key)| {
                    let f = Figure::new(values[i], hidden[i]);
                    Cell {
                        key: (*key).to_string(),
                        count: f.count,
                        suppressed: f.suppressed,
                    }
                })
                .collect(),
            total: Figure::new(values[keys.len()], hidden[keys.len()]),
        }
    }
}

/// One row of a two-way table: its counts in the order of the table's `columns`, and its total.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrossRow {
    /// The row's value (a county, an audience, a partner organisation's id).
    pub key: String,
    /// A readable name where the key is an id (the partner organisation's name).
    pub label: Option<String>,
    pub cells: Vec<Figure>,
    pub total: Figure,
}

/// Counts by two attributes: rows, each with a count per column and its total, then the column
/// totals and the grand total. Rows with nothing counted are left out; every column is listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrossTable {
    /// The column values, in the order of every row's `cells`.
    pub columns: Vec<String>,
    pub rows: Vec<CrossRow>,
    pub column_totals: Vec<Figure>,
    pub total: Figure,
}

/// A row of counts for a cross table: its key, label, and `(column, count)` pairs.
pub struct RowCounts {
    pub key: String,
    pub label: Option<String>,
    pub counts: Vec<(String, i64)>,
}

/// A figure of a cross table that another answer publishes (the indicator report), so that it is
/// never withheld to protect another: withholding it here would not hide anything.
#[derive(Debug, Clone, Copy)]
pub enum Published {
    Cell(&'static str, &'static str),
    Total,
}

impl CrossTable {
    /// A table of `rows` over `columns` (a column not counted is 0), suppressed with `k`.
    pub fn build(columns: &[&str], rows: Vec<RowCounts>, published: &[Published], k: u32) -> Self {
        let (r, c) = (rows.len(), columns.len());
        let mut values = Vec::with_capacity(r * c + r + c + 1);
        for row in &rows {
            for column in columns {
                values.push(row.counts.iter().filter(|(k, _)| k == column).map(|(_, n)| n).sum());
            }
        }
        let row_totals: Vec<i64> = (0..r).map(|i| values[i * c..(i + 1) * c].iter().sum()).collect();
        let column_totals: Vec<i64> = (0..c).map(|j| (0..r).map(|i| values[i * c + j]).sum()).collect();
        let grand: i64 = row_totals.iter().sum();
        values.extend(&row_totals);
        values.extend(&column_totals);
        values.push(grand);
        let mut keep = vec![false; values.len()];
        for p in published {
            match *p {
                Published::Total => keep[r * c + r + c] = true,
                Published::Cell(row, column) => {
                    let i = rows.iter().position(|x| x.key == row);
                    let j = columns.iter().position(|x| *x == column);
                    if let (Some(i), Some(j)) = (i, j) {
                        keep[i * c + j] = true;
                    }
                }
            }
        }
        let hidden = suppress(&values, &cross_sums(r, c), &keep, k);
        let figure = |i: usize| Figure::new(values[i], hidden[i]);
        CrossTable {
            columns: columns.iter().map(|s| (*s).to_string()).collect(),
            rows: rows
                .into_iter()
                .enumerate()
                .map(|(i, row)| CrossRow {
                    key: row.key,
                    label: row.label,
                    cells: (0..c).map(|j| figure(i * c + j)).collect(),
                    total: figure(r * c + i),
                })
                .collect(),
            column_totals: (0..c).map(|j| figure(r * c + r + j)).collect(),
            total: figure(r * c + r + c),
        }
    }

    /// The total of the row with this key (0 when there is no such row).
    pub fn row_total(&self, key: &str) -> Figure {
        self.rows
            .iter()
            .find(|row| row.key == key)
            .map_or(Figure::new(0, false), |row| row.total)
    }
}

/// A figure derived from counts (a median, a rate): `null` with `suppressed: true` when it rests
/// on fewer than k records or on a withheld count.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Measure {
    pub value: Option<f64>,
    pub suppressed: bool,
}

impl Measure {
    pub fn new(value: Option<f64>, hidden: bool) -> Self {
        Measure {
            value: if hidden { None } else { value },
            suppressed: hidden,
        }
    }
}

/// Cases reported in the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseStats {
    /// Rows: counties; columns: stages (where each case stands now).
    pub by_county_and_stage: CrossTable,
    /// Median days from the report to the first arrest, over the cases with an arrest.
    pub median_days_to_arrest: Measure,
    /// Median days from the report to the first charge, over the cases with a charge.
    pub median_days_to_charge: Measure,
}

/// Court sessions dated in the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourtStats {
    /// Rows: session status; columns: whether the survivor was accompanied (`accompanied`,
    /// `not_accompanied` — not recorded counts as not accompanied).
    pub by_status_and_accompaniment: CrossTable,
    /// Adjourned sessions as a share of the sessions held or adjourned, 0–1 (three decimals).
    pub adjournment_rate: Measure,
}

/// What a dashboard shows over a period. Each section says which records it counts and the date
/// that puts one in the period (see the operation's description). Sections a caller may not see
/// are `null`: a partner organisation's user sees its own referrals only.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub county: Option<County>,
    /// The k below which counts are withheld from this caller; `null` when nothing is.
    pub small_cell_k: Option<u32>,
    pub generated_at: DateTime<Utc>,
    pub cases: Option<CaseStats>,
    /// Suspects of the cases reported in the period, by their status now.
    pub suspects_by_status: Option<Table>,
    pub court_sessions: Option<CourtStats>,
    /// Survivors whose intake falls in the period, by restoration status now.
    pub survivors_by_restoration_status: Option<Table>,
    /// Services running at some time in the period (started on or before its last day, not ended
    /// before its first), by kind: active ones, and completed or discontinued ones with an end
    /// date (planned ones, and finished ones whose end was not recorded, are left out).
    pub services_by_kind: Option<Table>,
    /// Referrals submitted in the period: rows are the referring organisations, columns the
    /// status now.
    pub referrals_by_partner_and_status: CrossTable,
    /// Participants of trainings starting in the period: rows are audiences, columns sex. Not
    /// suppressed (no child is counted).
    pub people_trained: Option<CrossTable>,
    /// Partner organisations marked active now, by kind (the period does not apply; the county
    /// filter looks at the counties they work in). Not suppressed.
    pub partners_by_kind: Option<Table>,
}
