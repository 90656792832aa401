//! Small-cell suppression for the roles that see aggregates only (DESIGN §2): a count from 1 to
//! k−1 is withheld (primary suppression), and so is whatever else would let a reader work it out
//! again by subtraction (complementary suppression).
//!
//! A table is a list of counts and the sums that hold between them: each row with its total,
//! each column with its total, the totals with the grand total. A reader knows that a withheld
//! count is at least 1 (zeros are shown), so a sum whose total is shown tells them how much its
//! withheld parts add up to. A sum gives a withheld count away when it has exactly one, or when
//! its withheld parts add up to so little that each must be small (their sum less one for each
//! other withheld part is below k: `9, –, –, 11` says both are 1). Such a sum gets another count
//! withheld — the smallest visible one that is not zero (a zero withheld hides nothing), and not
//! one that must stay visible because another answer publishes it (the indicator report) — until
//! no sum gives anything away.

/// Which of `values` to withhold, given the sums between them: each sum lists the indexes of its
/// parts, then of its total (last). `keep[i]`: never withhold value `i` to protect another (it is
/// published elsewhere); it is still withheld when it is small itself. `k <= 1` withholds nothing.
pub fn suppress(values: &[i64], sums: &[Vec<usize>], keep: &[bool], k: u32) -> Vec<bool> {
    let k = i64::from(k);
    if k <= 1 {
        return vec![false; values.len()];
    }
    let mut hidden: Vec<bool> = values.iter().map(|&v| v >= 1 && v < k).collect();
    loop {
        let mut changed = false;
        for sum in sums {
            if !gives_away(values, &hidden, sum, k) {
                continue;
            }
            let candidates = |parts_only: bool| {
                let n = sum.len() - usize::from(parts_only);
                sum[..n]
                    .iter()
                    .copied()
                    .filter(|&i| !hidden[i] && values[i] > 0 && !keep.get(i).copied().unwrap_or(false))
                    .min_by_key(|&i| (values[i], i))
            };
            // Another part first (the total stays useful), the total when no part can go.
            if let Some(i) = candidates(true).or_else(|| candidates(false)) {
                hidden[i] = true;
                changed = true;
            }
        }
        if !changed {
            return hidden;
        }
    }
}

/// Whether this sum lets a reader narrow a withheld part down to a small count.
fn gives_away(values: &[i64], hidden: &[bool], sum: &[usize], k: i64) -> bool {
    let Some((&total, parts)) = sum.split_last() else {
        return false;
    };
    let withheld = sum.iter().filter(|&&i| hidden[i]).count();
    if withheld == 1 {
        return true;
    }
    if withheld == 0 || hidden[total] {
        return false;
    }
    // The total is shown: the withheld parts add up to `rest`, each at least 1.
    let hidden_parts: Vec<usize> = parts.iter().copied().filter(|&i| hidden[i]).collect();
    let rest: i64 = hidden_parts.iter().map(|&i| values[i]).sum();
    rest - (hidden_parts.len() as i64 - 1) < k
}

/// The sums of a `rows × columns` table laid out as its cells (row by row), then the row totals,
/// the column totals and the grand total.
pub fn cross_sums(rows: usize, columns: usize) -> Vec<Vec<usize>> {
    let cell = |r: usize, c: usize| r * columns + c;
    let row_total = |r: usize| rows * columns + r;
    let column_total = |c: usize| rows * columns + rows + c;
    let grand = rows * columns + rows + columns;
    let mut sums = Vec::with_capacity(rows + columns + 2);
    for r in 0..rows {
        sums.push((0..columns).map(|c| cell(r, c)).chain([row_total(r)]).collect());
    }
    for c in 0..columns {
        sums.push((0..rows).map(|r| cell(r, c)).chain([column_total(c)]).collect());
    }
    sums.push((0..rows).map(row_total).chain([grand]).collect());
    sums.push((0..columns).map(column_total).chain([grand]).collect());
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every withheld count is still unknown to a reader who knows every other figure and every
    /// sum: no sum has exactly one withheld part.
    fn no_sum_gives_one_away(hidden: &[bool], sums: &[Vec<usize>]) {
        for sum in sums {
            assert_ne!(sum.iter().filter(|&&i| hidden[i]).count(), 1, "{sum:?} {hidden:?}");
        }
    }

    #[test]
    fn a_single_small_count_takes_the_next_smallest_with_it() {
        // cells 3, 7, 20, total 30
        let values = [3, 7, 20, 30];
        let sums = vec![vec![0, 1, 2, 3]];
        let hidden = suppress(&values, &sums, &[], 5);
        assert_eq!(hidden, [true, true, false, false]);
        no_sum_gives_one_away(&hidden, &sums);
    }

    #[test]
    fn zeros_are_shown_and_never_picked() {
        // cells 0, 2, 9, total 11: 2 is small; 0 hides nothing, so 9 goes too.
        let values = [0, 2, 9, 11];
        let hidden = suppress(&values, &[vec![0, 1, 2, 3]], &[], 5);
        assert_eq!(hidden, [false, true, true, false]);
    }

    #[test]
    fn a_small_total_is_withheld_with_a_part() {
        // cells 0, 4, total 4: both small.
        let values = [0, 4, 4];
        assert_eq!(suppress(&values, &[vec![0, 1, 2]], &[], 5), [false, true, true]);
    }

    #[test]
    fn withheld_parts_that_add_up_to_little_take_another_with_them() {
        // 9, 1, 1 of 11: shown 9 and 11, the two withheld would add up to 2, so both be 1.
        let values = [9, 1, 1, 11];
        let hidden = suppress(&values, &[vec![0, 1, 2, 3]], &[], 5);
        assert_eq!(hidden, [true, true, true, false]);
    }

    #[test]
    fn a_count_published_elsewhere_is_not_withheld_to_protect_another() {
        // 6 accompanied (published by the indicator report), 2 not, 8 held: the total goes.
        let values = [6, 2, 8];
        let hidden = suppress(&values, &[vec![0, 1, 2]], &[true, false, false], 5);
        assert_eq!(hidden, [false, true, true]);
    }

    #[test]
    fn nothing_is_withheld_without_k() {
        assert_eq!(suppress(&[1, 2, 3], &[vec![0, 1, 2]], &[], 1), [false, false, false]);
    }

    #[test]
    fn cross_tables_hold_along_rows_columns_and_totals() {
        // 2 × 3:       a   b   c | total
        //   row 0     10   2  12 |  24
        //   row 1      6   8   9 |  23
        //   total     16  10  21 |  47
        let values = [10, 2, 12, 6, 8, 9, 24, 23, 16, 10, 21, 47];
        let sums = cross_sums(2, 3);
        let hidden = suppress(&values, &sums, &[], 5);
        assert!(hidden[1], "the 2 is withheld");
        no_sum_gives_one_away(&hidden, &sums);
        // Row 0 and column b each needed a second withheld count.
        assert_eq!(hidden.iter().filter(|h| **h).count(), 4, "{hidden:?}");
    }

    #[test]
    fn a_whole_small_table_is_withheld() {
        // 1 × 2: 1, 1 | 2
        let values = [1, 1, 2, 1, 1, 2];
        let hidden = suppress(&values, &cross_sums(1, 2), &[], 5);
        assert!(hidden.iter().all(|h| *h));
    }
}
