//! `bench-analytics`: search, export and offline rebuilds, measured. The last line printed is
//! one JSON object:
//! - `export_events_per_s`: `prism export` (zstd) of a generated log (default 1,101,000 events,
//!   over 1,000,000 of them messages);
//! - `offline_rebuild_events_per_s`: `prism rebuild` of every projection (read models, audit,
//!   spectrum, search) from that export into a fresh database and index directory;
//! - `index_docs_per_s`: the search index alone rebuilt from the export (messages indexed per s);
//! - `search_p50_ms`, `search_p99_ms`: mixed term / two-term / phrase / prefix / boolean queries
//!   (limit 20, with snippets, the caller's ten workspaces) over the rebuilt index, one at a
//!   time, as the read API runs them.

/// The same allocator as the `prism` binary, so the numbers are the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use prism_bench::http::fresh_database;
use prism_bench::kernel::pool;
use prism_bench::pct;
use prism_event_store::PgEventStore;
use prism_projections::offline::{self, RebuildPlan, Source};
use prism_projections::search::{SearchIndex, SearchQuery};
use serde_json::json;

struct Args {
    batch: usize,
    events: i64,
    queries: usize,
    server: String,
}

fn args() -> Args {
    let mut a = Args {
        batch: 5_000,
        // 10 in 11 are messages: at least a million of them.
        events: 1_101_000,
        queries: 2_000,
        server: "postgres://postgres@127.0.0.1:5432".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next();
        match (k.as_str(), v) {
            ("--events", Some(v)) => a.events = v.parse().unwrap_or(a.events),
            ("--batch", Some(v)) => a.batch = v.parse().unwrap_or(a.batch),
            ("--queries", Some(v)) => a.queries = v.parse().unwrap_or(a.queries),
            ("--server", Some(v)) => a.server = v,
            (k, _) => eprintln!("ignoring argument {k}"),
        }
    }
    a
}

/// Words for message bodies: common enough to repeat, varied enough to rank.
const WORDS: &str = "the a of to and in is it you that he was for on are with as they be at one have this from \
or had by hot word but what some we can out other were all there when up use your how said an each she which do \
their time if will way about many then them write would like so these her long make thing see him two has look \
more day could go come did number sound no most people my over know water than call first who may down side been \
now find any new work part take get place made live where after back little only round man year came show every \
good me give our under name very through just form sentence great think say help low line differ turn cause much \
mean before move right boy old too same tell does set three want air well also play small end put home read hand \
port large spell add even land here must big high such follow act why ask men change went light kind off need \
house picture try us again animal point mother world near build self earth father head stand own page should \
country found answer school grow study still learn plant cover food sun four between state keep eye never last \
let thought city tree cross farm hard start might story saw far sea draw left late run while press close night \
real life few north open seem together next white children begin got walk example ease paper group always music \
those both mark often letter until mile river car feet care second book carry took science eat room friend began \
idea fish mountain stop once base hear horse cut sure watch color face wood main enough plain girl usual young \
ready above ever red list though feel talk bird soon body dog family direct pose leave song measure door product \
black short numeral class wind question happen complete ship area half rock order fire south problem piece told \
knew pass since top whole king space heard best hour better true during hundred five remember step early hold \
west ground interest reach fast verb sing listen six table travel less morning ten simple several vowel toward \
war lay against pattern slow center love person money serve appear road map rain rule govern pull cold notice \
voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest \
correct able pound done beauty drive stood contain front teach week final gave green oh quick develop ocean warm \
free minute strong special mind behind clear tail produce fact street inch multiply nothing course stay wheel \
full force blue object decide surface deep moon island foot system busy test record boat common gold possible \
plane stead dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring yes \
distant fill east paint language among launch budget release deploy review quarterly roadmap hiring design";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args();
    let mut out = serde_json::Map::new();
    let work = tempfile::tempdir()?;

    // 1. A large log: 10 workspaces × 10 channels, 1,000 authors over 90 days, mostly messages
    //    (varied text), some edits and reactions.
    let url = fresh_database(&a.server, "prism_bench_analytics").await?;
    let db = pool(&url, 8).await?;
    prism_event_store::db::migrate(&db).await?;
    let t = Instant::now();
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let messages = generate_log(&db, a.events, &words).await?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&db).await?;
    println!(
        "generated {events} events ({messages} messages) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // 2. Export.
    let store = PgEventStore::new(db.clone(), 0);
    let file = work.path().join("log.ndjson.zst");
    let s = offline::export(&store, &file, None, 0, |_| {}).await?;
    let per_s = s.events as f64 / s.seconds;
    println!(
        "exported {} events ({:.0} MB zstd) in {:.1} s: {per_s:.0} events/s",
        s.events,
        s.bytes as f64 / 1e6,
        s.seconds
    );
    out.insert("export_events_per_s".into(), json!(per_s.round()));
    // The same log as Parquet (typed columns, zstd row groups), side by side.
    let parquet = work.path().join("log.parquet");
    let s = offline::export(&store, &parquet, None, 0, |_| {}).await?;
    let parquet_per_s = s.events as f64 / s.seconds;
    println!(
        "exported {} events as Parquet ({:.0} MB) in {:.1} s: {parquet_per_s:.0} events/s ({:.2}x NDJSON)",
        s.events,
        s.bytes as f64 / 1e6,
        s.seconds,
        parquet_per_s / per_s
    );
    out.insert("export_parquet_events_per_s".into(), json!(parquet_per_s.round()));

    // 2b. The yardstick, in the same run: Postgres's own COPY of the same columns, in log
    //     order, to this process (what any export must at least read).
    let t = Instant::now();
    let mut copy = {
        use sqlx::postgres::PgPoolCopyExt;
        db.copy_out_raw(
            "COPY (SELECT global_position, event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type,
                          event_version, payload, metadata, recorded_at, hash
                     FROM events ORDER BY global_position) TO STDOUT",
        )
        .await?
    };
    let mut copied = 0usize;
    while let Some(chunk) = futures::StreamExt::next(&mut copy).await {
        copied += chunk?.len();
    }
    drop(copy);
    let copy_per_s = events as f64 / t.elapsed().as_secs_f64();
    println!(
        "COPY of the same log: {:.0} MB in {:.1} s: {copy_per_s:.0} events/s",
        copied as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    out.insert("copy_events_per_s".into(), json!(copy_per_s.round()));
    out.insert(
        "export_vs_copy".into(),
        json!((per_s / copy_per_s * 1000.0).round() / 1000.0),
    );
    out.insert(
        "parquet_vs_copy".into(),
        json!((parquet_per_s / copy_per_s * 1000.0).round() / 1000.0),
    );

    // 3. Every projection, offline, from the export.
    let into_url = fresh_database(&a.server, "prism_bench_analytics_copy").await?;
    let into = pool(&into_url, 16).await?;
    prism_event_store::db::migrate(&into).await?;
    let index_dir = work.path().join("index");
    let r = offline::rebuild(
        RebuildPlan {
            source: Source::File(file.clone()),
            into: into.clone(),
            projections: offline::PROJECTIONS.iter().map(|s| s.to_string()).collect(),
            index_dir: Some(index_dir.clone()),
            batch: a.batch,
        },
        |_| {},
    )
    .await?;
    let per_s = r.events as f64 / r.seconds;
    println!(
        "rebuilt read models, audit, spectrum and search from {} events in {:.1} s: {per_s:.0} events/s",
        r.events, r.seconds
    );
    out.insert("offline_rebuild_events_per_s".into(), json!(per_s.round()));

    // 3b. Offline against live, for the same projections (the relational ones: the live
    //     rebuild has no search index), on the same log, in this run.
    const RELATIONAL: [&str; 3] = ["read_models", "audit", "spectrum"];
    let offline_url = fresh_database(&a.server, "prism_bench_analytics_offline3").await?;
    let offline_db = pool(&offline_url, 16).await?;
    prism_event_store::db::migrate(&offline_db).await?;
    let r = offline::rebuild(
        RebuildPlan {
            source: Source::File(file.clone()),
            into: offline_db.clone(),
            projections: RELATIONAL.iter().map(|s| s.to_string()).collect(),
            index_dir: None,
            batch: a.batch,
        },
        |_| {},
    )
    .await?;
    let offline3_per_s = r.events as f64 / r.seconds;
    offline_db.close().await;
    let mut live_seconds = 0.0;
    for name in RELATIONAL {
        let (projection, tables) =
            prism_projections::by_name(name).ok_or_else(|| anyhow::anyhow!("no projection {name}"))?;
        let report = prism_projections::rebuild::rebuild(&store, projection.as_ref(), tables, 5_000, |_| {}).await?;
        live_seconds += report.seconds;
    }
    let live_per_s = events as f64 / live_seconds;
    println!(
        "read models, audit and spectrum: offline from the export {offline3_per_s:.0} events/s, live from Postgres {live_per_s:.0} events/s"
    );
    out.insert("offline_rebuild3_events_per_s".into(), json!(offline3_per_s.round()));
    out.insert("live_rebuild3_events_per_s".into(), json!(live_per_s.round()));
    out.insert(
        "offline_rebuild_vs_live".into(),
        json!((offline3_per_s / live_per_s * 1000.0).round() / 1000.0),
    );

    if std::env::var("BENCH_BREAKDOWN").is_ok() {
        for p in ["read_models", "audit", "spectrum"] {
            let r = offline::rebuild(
                RebuildPlan {
                    source: Source::File(file.clone()),
                    into: into.clone(),
                    projections: vec![p.into()],
                    index_dir: None,
                    batch: a.batch,
                },
                |_| {},
            )
            .await?;
            println!("  {p} alone: {:.0} events/s", r.events as f64 / r.seconds);
        }
    }

    // 4. The search index alone.
    let alone = work.path().join("index-alone");
    let r = offline::rebuild(
        RebuildPlan {
            source: Source::File(file.clone()),
            into: into.clone(),
            projections: vec!["search".into()],
            index_dir: Some(alone.clone()),
            batch: a.batch,
        },
        |_| {},
    )
    .await?;
    let per_s = messages as f64 / r.seconds;
    println!("indexed {messages} messages in {:.1} s: {per_s:.0} docs/s", r.seconds);
    out.insert("index_docs_per_s".into(), json!(per_s.round()));
    let _ = std::fs::remove_dir_all(&alone);

    // 5. Queries over the full index.
    let index = SearchIndex::open(&index_dir)?;
    println!("search index holds {} documents", index.num_docs());
    let audiences: Vec<String> = (1..=10).map(|i| format!("ws:{}", ws_id(i))).collect();
    let mut lat = Vec::with_capacity(a.queries);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut hits = 0usize;
    for i in 0..a.queries {
        let w1 = words[(next() % words.len() as u64) as usize];
        let w2 = words[(next() % words.len() as u64) as usize];
        let text = match i % 5 {
            0 => w1.to_owned(),
            1 => format!("{w1} {w2}"),
            2 => format!("\"{w1} {w2}\""),
            3 => format!(
                "{}*",
                &w1[..w1.len().min(3)].trim_end_matches(|c: char| !c.is_alphanumeric())
            ),
            _ => format!("{w1} OR {w2} -{}", words[(next() % words.len() as u64) as usize]),
        };
        let q = SearchQuery {
            text: if text.len() < 3 { "launch".into() } else { text },
            audiences: audiences.clone(),
            kind: None,
            limit: 20,
            offset: 0,
        };
        let t = Instant::now();
        match index.search(&q) {
            Ok(page) => hits += page.hits.len(),
            Err(e) => eprintln!("query {:?}: {e}", q.text),
        }
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    let (p50, p99) = (pct(&lat, 0.5), pct(&lat, 0.99));
    println!(
        "{} queries: p50 {p50:.2} ms, p99 {p99:.2} ms ({:.1} hits per query)",
        a.queries,
        hits as f64 / a.queries as f64
    );
    out.insert("search_p50_ms".into(), json!((p50 * 100.0).round() / 100.0));
    out.insert("search_p99_ms".into(), json!((p99 * 100.0).round() / 100.0));

    db.close().await;
    into.close().await;
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}

fn ws_id(i: i64) -> String {
    format!("00000000-0000-7000-8000-{i:012x}")
}

/// `n` events in bulk, with valid payloads (the chain hash is a placeholder: nothing here
/// verifies it). Answers how many are `message.created`.
async fn generate_log(db: &sqlx::PgPool, n: i64, words: &[&str]) -> anyhow::Result<i64> {
    sqlx::query(
        "INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
         SELECT gen_random_uuid(), w, 'workspace', w, 1, 'workspace.created', 1,
                jsonb_build_object('workspace_id', w, 'name', 'ws', 'owner_id', w, 'join_code', 'X'),
                jsonb_build_object('actor_id', w, 'actor_kind', 'user', 'correlation_id', gen_random_uuid()), now() - interval '91 days', '\\x00'
           FROM (SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid AS w FROM generate_series(1, 10) i) s",
    )
    .execute(db)
    .await?;
    sqlx::query(
        "INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
         SELECT gen_random_uuid(), w, 'channel', c, 1, 'channel.created', 1,
                jsonb_build_object('channel_id', c, 'workspace_id', w, 'name', 'c' || j, 'created_by', w),
                jsonb_build_object('actor_id', w, 'actor_kind', 'user', 'correlation_id', gen_random_uuid()), now() - interval '91 days', '\\x00'
           FROM (SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid AS w,
                        ('00000000-0000-7000-9000-' || lpad(to_hex(i * 100 + j), 12, '0'))::uuid AS c, j
                   FROM generate_series(1, 10) i, generate_series(1, 10) j) s",
    )
    .execute(db)
    .await?;
    // Of the rest: 90% messages, then an edit of every 20th and a reaction to every 20th.
    let messages = ((n - 110).max(0) * 10) / 11;
    let side = (n - 110 - messages).max(0) / 2;
    let chunk = 100_000;
    let mut k = 0;
    while k < messages {
        let upto = (k + chunk).min(messages);
        sqlx::query(
            "INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
             SELECT gen_random_uuid(), w, 'message', m, 1, 'message.created', 2,
                    jsonb_build_object('message_id', m, 'workspace_id', w, 'channel_id', c, 'author_id', a, 'body', body, 'parent_id', NULL),
                    jsonb_build_object('actor_id', a, 'actor_kind', 'user', 'correlation_id', gen_random_uuid()), at, '\\x00'
               FROM (SELECT k, ('00000000-0000-7000-8000-' || lpad(to_hex(1 + k % 10), 12, '0'))::uuid AS w,
                            ('00000000-0000-7000-9000-' || lpad(to_hex((1 + k % 10) * 100 + 1 + (k / 10) % 10), 12, '0'))::uuid AS c,
                            ('00000000-0000-7000-a000-' || lpad(to_hex(k), 12, '0'))::uuid AS m,
                            ('00000000-0000-7000-b000-' || lpad(to_hex(k % 1000), 12, '0'))::uuid AS a,
                            now() - interval '90 days' + (k::float8 / $3) * interval '90 days' AS at,
                            (SELECT string_agg(($4::text[])[1 + (abs(hashint8(k * 31 + j)) % array_length($4::text[], 1))], ' ')
                               FROM generate_series(1, 6 + (k % 14)::int) j) AS body
                       FROM generate_series($1, $2 - 1) k) s",
        )
        .bind(k)
        .bind(upto)
        .bind(messages as f64)
        .bind(words)
        .execute(db)
        .await?;
        k = upto;
    }
    sqlx::query(
        "INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
         SELECT gen_random_uuid(), w, 'message', m, 2, 'message.updated', 1,
                jsonb_build_object('body', 'edited launch budget review ' || k, 'edited_by', a),
                jsonb_build_object('actor_id', a, 'actor_kind', 'user', 'correlation_id', gen_random_uuid()), now(), '\\x00'
           FROM (SELECT k, ('00000000-0000-7000-8000-' || lpad(to_hex(1 + k % 10), 12, '0'))::uuid AS w,
                        ('00000000-0000-7000-a000-' || lpad(to_hex(k), 12, '0'))::uuid AS m,
                        ('00000000-0000-7000-b000-' || lpad(to_hex(k % 1000), 12, '0'))::uuid AS a
                   FROM generate_series(0, $1 - 1) g, LATERAL (SELECT g * 20 AS k) x) s",
    )
    .bind(side)
    .execute(db)
    .await?;
    sqlx::query(
        "INSERT INTO events (event_id, tenant_id, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
         SELECT gen_random_uuid(), w, 'message', m, 3, 'reaction.toggled', 1,
                jsonb_build_object('user_id', r, 'emoji', '👍', 'added', true),
                jsonb_build_object('actor_id', r, 'actor_kind', 'user', 'correlation_id', gen_random_uuid()), now(), '\\x00'
           FROM (SELECT k, ('00000000-0000-7000-8000-' || lpad(to_hex(1 + k % 10), 12, '0'))::uuid AS w,
                        ('00000000-0000-7000-a000-' || lpad(to_hex(k), 12, '0'))::uuid AS m,
                        ('00000000-0000-7000-b000-' || lpad(to_hex((k + 1) % 1000), 12, '0'))::uuid AS r
                   FROM generate_series(0, $1 - 1) g, LATERAL (SELECT g * 20 AS k) x) s",
    )
    .bind(side)
    .execute(db)
    .await?;
    // As a live table would have: statistics (autovacuum would gather them soon after a bulk load).
    sqlx::query("ANALYZE events").execute(db).await?;
    Ok(messages)
}
