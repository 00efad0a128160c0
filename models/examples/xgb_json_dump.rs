//! Prints the XGBoost JSON of a tiny tree model (development aid).
fn main() {
    use cis490_models::gbt::{Gbt, GbtConfig, Table};
    let mut t = Table { cols: 2, ..Table::default() };
    for i in 0..70u32 {
        t.x.extend([(i % 7) as f32, (i % 5) as f32]);
        t.y.push(i % 7);
        t.rows += 1;
    }
    let config = GbtConfig { rounds: 2, max_depth: 2, eta: 0.3, early_stopping_rounds: 2 };
    if let Ok(m) = Gbt::fit(&t, &t, &config) {
        if let Ok(j) = m.xgboost_json() {
            println!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        }
    }
}
