//! `sqlx::migrate!` embeds the migrations at compile time but cannot tell Cargo to watch the
//! folder: without this, a new migration file is missing from the binary until something else
//! in this crate changes (the sqlx documentation's recommended build script).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
