//! Rows for one table gathered in memory and written many to a statement, in SQL both engines
//! take: a push's feed entries and applied operations at the end of its transaction, and the
//! benchmarks' million-row stores.

use crate::Result;
use crate::db::{Conn, Val};

/// Rows of one table, one value per column each, in the order they were added.
pub struct Rows {
    head: String,
    columns: usize,
    values: Vec<Val>,
}

impl Rows {
    pub fn new(table: &str, columns: &[&str]) -> Rows {
        Rows {
            head: format!("INSERT INTO {table} ({})", columns.join(", ")),
            columns: columns.len(),
            values: Vec::new(),
        }
    }

    /// Add a row, its values in the columns' order.
    pub fn push(&mut self, values: impl IntoIterator<Item = Val>) {
        let before = self.values.len();
        self.values.extend(values);
        assert_eq!(
            self.values.len() - before,
            self.columns,
            "one value per column"
        );
    }

    /// How many rows are waiting to be written.
    pub fn len(&self) -> usize {
        self.values.len() / self.columns
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Forget the rows after the first `rows` (an operation undone).
    pub fn truncate(&mut self, rows: usize) {
        self.values.truncate(rows * self.columns);
    }

    /// Send the rows waiting, in statements of 64, 8 or 1 rows (a few prepared shapes, well
    /// under both engines' limits on parameters), answered with the next statement that waits
    /// ([`Conn::execute_later`]).
    pub fn write(&mut self, c: &mut dyn Conn) -> Result<()> {
        let mut left = self.len();
        let mut values = std::mem::take(&mut self.values).into_iter();
        while left > 0 {
            let rows = [64, 8, 1].into_iter().find(|n| *n <= left).unwrap_or(1);
            let mut sql = self.head.clone();
            for r in 0..rows {
                sql.push_str(if r == 0 { " VALUES (" } else { ", (" });
                for k in 0..self.columns {
                    if k > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!("?{}", r * self.columns + k + 1));
                }
                sql.push(')');
            }
            let args: Vec<_> = values.by_ref().take(rows * self.columns).collect();
            c.execute_later(&sql, &args)?;
            left -= rows;
        }
        Ok(())
    }
}
