//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the SQL files at
//! compile time, and without this Cargo would keep a binary built without the new file.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
