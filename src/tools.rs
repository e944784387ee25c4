//! The command-line tools for operators, auditors and analysts: `audit verify`, `export`,
//! `rebuild`, `replay`, `roles grant` and `projections status|rebuild`. Each prints a progress
//! bar on a terminal and ends with a one-paragraph summary.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use prism_projections::offline::{self, Progress, RebuildPlan, Source};
use uuid::Uuid;

use crate::config::Config;

#[derive(Subcommand)]
pub enum ProjectionsCommand {
    /// Every projection with its position, lag and last error.
    Status,
    /// Write a fresh copy of a projection's tables from the log, then swap it in.
    Rebuild {
        /// The projection: read_models, audit or spectrum. (The search index is rebuilt by
        /// deleting `$PRISM_DATA_DIR/search` and restarting the read API.)
        name: String,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chains from the log and check the audit trail's copies.
    Verify {
        /// Only this workspace's events.
        #[arg(long)]
        workspace: Option<Uuid>,
    },
}

#[derive(Subcommand)]
pub enum RolesCommand {
    /// Grant a platform role (`auditor`, `admin`) to a user.
    Grant { user: Uuid, role: String },
}

fn bar(unit: &str) -> ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{msg}}  eta {{eta}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn show(bar: &ProgressBar, p: Progress) {
    if let Some(h) = p.head {
        bar.set_length(h.max(p.position) as u64);
    }
    bar.set_position(p.position.max(0) as u64);
    bar.set_message(format!("{} events, {:.0} events/s", p.done, p.per_s));
}

pub async fn audit_verify(pool: sqlx::PgPool, workspace: Option<Uuid>) -> anyhow::Result<()> {
    let history = prism_projections::history::History::from_pool(pool);
    let report = history.verify(workspace).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    match &report.first_bad {
        None => {
            eprintln!("verified: {} events, every hash chain intact", report.checked);
            Ok(())
        }
        Some(b) => anyhow::bail!(
            "{} of {} events do not verify; the first is position {} ({} {} sequence {}): {}",
            report.bad,
            report.checked,
            b.position,
            b.aggregate_type,
            b.aggregate_id,
            b.sequence,
            b.reason
        ),
    }
}

pub async fn export(
    pool: sqlx::PgPool,
    out: PathBuf,
    format: Option<&str>,
    workspace: Option<Uuid>,
    after: i64,
) -> anyhow::Result<()> {
    let store = prism_event_store::PgEventStore::new(pool, 0);
    let bar = bar("positions");
    let format = match format {
        Some("parquet") => offline::Format::Parquet,
        Some(_) => offline::Format::Ndjson,
        None => offline::Format::of(&out),
    };
    let s = offline::export_as(&store, &out, format, workspace, after, |p| show(&bar, p)).await?;
    bar.finish_and_clear();
    println!(
        "exported {} events (positions {}..={}) to {} ({:.1} MB) in {:.1} s ({:.0} events/s)",
        s.events,
        after + 1,
        s.last_position,
        out.display(),
        s.bytes as f64 / 1e6,
        s.seconds,
        s.events as f64 / s.seconds.max(1e-9)
    );
    Ok(())
}

pub async fn rebuild(
    cfg: &Config,
    from: String,
    into: String,
    projections: Vec<String>,
    index_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let source = if from.starts_with("postgres://") || from.starts_with("postgresql://") {
        Source::Postgres(
            prism_event_store::db::connect(&from, 8)
                .await
                .with_context(|| "cannot reach the source database (--from)")?,
        )
    } else {
        let path = PathBuf::from(&from);
        anyhow::ensure!(path.is_file(), "{from}: no such export file");
        Source::File(path)
    };
    let target = prism_event_store::db::connect(&into, cfg.db_pool.max(8))
        .await
        .with_context(|| "cannot reach the target database (--into)")?;
    prism_event_store::db::migrate(&target)
        .await
        .context("migrating the target database")?;
    let projections = if projections.is_empty() {
        let mut all: Vec<String> = offline::PROJECTIONS.iter().map(|s| s.to_string()).collect();
        if index_dir.is_none() {
            all.retain(|p| p != "search");
        }
        all
    } else {
        projections
    };
    let bar = bar("positions");
    let chosen = projections.join(", ");
    let plan = RebuildPlan {
        source,
        into: target,
        projections,
        index_dir: index_dir.clone(),
        batch: 5_000,
    };
    let s = offline::rebuild(plan, |p| show(&bar, p)).await?;
    bar.finish_and_clear();
    println!(
        "rebuilt {chosen} from {} events (up to position {}) in {:.1} s ({:.0} events/s){}",
        s.events,
        s.last_position,
        s.seconds,
        s.events as f64 / s.seconds.max(1e-9),
        index_dir
            .map(|d| format!("; search index in {}", d.display()))
            .unwrap_or_default()
    );
    Ok(())
}

pub async fn replay(pool: sqlx::PgPool, aggregate: String, at: Option<i64>) -> anyhow::Result<()> {
    let (ty, id) = aggregate
        .split_once('/')
        .context("--aggregate takes TYPE/ID, e.g. workspace/0192…")?;
    let id: Uuid = id.parse().context("the aggregate id is not a UUID")?;
    anyhow::ensure!(
        prism_projections::history::AGGREGATE_TYPES.contains(&ty),
        "unknown aggregate type {ty:?} (known: {})",
        prism_projections::history::AGGREGATE_TYPES.join(", ")
    );
    let history = prism_projections::history::History::from_pool(pool);
    match history.state_at(ty, id, at).await? {
        Some(s) => {
            println!("{}", serde_json::to_string_pretty(&s)?);
            eprintln!(
                "{ty} {id} at version {} (its event at position {}){}",
                s.version,
                s.position,
                at.map(|a| format!(", as of position {a}")).unwrap_or_default()
            );
            Ok(())
        }
        None => anyhow::bail!(
            "{ty} {id} has no events{}",
            at.map(|a| format!(" at or before position {a}")).unwrap_or_default()
        ),
    }
}

pub async fn roles(cfg: &Config, pool: sqlx::PgPool, cmd: RolesCommand) -> anyhow::Result<()> {
    let RolesCommand::Grant { user, role } = cmd;
    let store = prism_event_store::PgEventStore::new(pool, cfg.snapshot_every);
    let commands = cfg.commands(store)?;
    let added = commands
        .grant_platform_role(prism_domain::UserId(user), &role)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if added {
        println!("granted {role} to {user}; their next access token carries it");
    } else {
        println!("{user} already has {role}");
    }
    Ok(())
}

/// `prism plans set USER PLAN`.
#[derive(clap::Subcommand)]
pub enum PlansCommand {
    /// Put a user on a plan (free, prism, prism_plus): an `entitlement.changed` event.
    Set { user: Uuid, plan: String },
}

pub async fn plans(cfg: &Config, pool: sqlx::PgPool, cmd: PlansCommand) -> anyhow::Result<()> {
    let PlansCommand::Set { user, plan } = cmd;
    let store = prism_event_store::PgEventStore::new(pool, cfg.snapshot_every);
    let commands = cfg.commands(store)?;
    let changed = commands
        .set_plan(prism_domain::UserId(user), &plan)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if changed {
        println!("{user} is on the {plan} plan from now on");
    } else {
        println!("{user} is already on the {plan} plan");
    }
    Ok(())
}

pub async fn projections(cmd: ProjectionsCommand, pool: sqlx::PgPool, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        ProjectionsCommand::Status => {
            println!(
                "{:<16} {:>12} {:>10}  {:<25} last error",
                "projection", "position", "lag", "updated"
            );
            for (s, lag) in prism_projections::status::all(&pool).await? {
                let err = s.last_error.unwrap_or_default();
                println!(
                    "{:<16} {:>12} {:>10}  {:<25} {err}",
                    s.name,
                    s.position,
                    lag,
                    s.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            for r in prism_projections::status::relays(&pool).await? {
                let err = match (&r.last_error, r.failing_since) {
                    (Some(e), Some(since)) => format!("failing since {}: {e}", since.format("%Y-%m-%d %H:%M:%S UTC")),
                    _ => String::new(),
                };
                println!(
                    "{:<16} {:>12} {:>10}  {:<25} {err}",
                    r.name,
                    r.position,
                    r.lag,
                    r.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            if let Some(url) = &cfg.read_database_url {
                // The replica's own checkpoint rows: what the read API vouches for there.
                let replica = prism_event_store::db::connect_replica(url, 1)?;
                match prism_projections::status::all(&replica).await {
                    Ok(rows) => {
                        let primary: std::collections::HashMap<String, i64> = prism_projections::status::all(&pool)
                            .await?
                            .into_iter()
                            .map(|(s, _)| (s.name, s.position))
                            .collect();
                        for (s, _) in rows {
                            let behind = primary.get(&s.name).map_or(0, |p| (p - s.position).max(0));
                            println!(
                                "{:<16} {:>12} {:>10}  replica (PRISM_READ_DATABASE_URL), events behind the primary",
                                s.name, s.position, behind
                            );
                        }
                    }
                    Err(e) => {
                        println!("replica (PRISM_READ_DATABASE_URL) unreachable: {e}; the read API reads the primary")
                    }
                }
            }
            Ok(())
        }
        ProjectionsCommand::Rebuild { name } => {
            let Some((projection, tables)) = prism_projections::by_name(&name) else {
                let known: Vec<&str> = prism_projections::all().iter().map(|(p, _)| p.name()).collect();
                anyhow::bail!("unknown projection {name:?} (known: {})", known.join(", "));
            };
            let store = prism_event_store::PgEventStore::new(pool, cfg.snapshot_every);
            let bar = bar("positions");
            let report = prism_projections::rebuild::rebuild(&store, projection.as_ref(), tables, 5_000, |p| {
                bar.set_length(p.head as u64);
                bar.set_position(p.position as u64);
                bar.set_message(format!("{:.0} events/s", p.events_per_s));
            })
            .await?;
            bar.finish_and_clear();
            println!(
                "rebuilt {name}: {} events in {:.1} s ({:.0} events/s), now at position {}",
                report.applied,
                report.seconds,
                report.applied as f64 / report.seconds.max(1e-9),
                report.position
            );
            Ok(())
        }
    }
}

/// `prism safety …`: the gate, for an operator.
#[derive(clap::Subcommand)]
pub enum SafetyCommand {
    /// Run the gate (both stages when PRISM_AI_URL is set) over a labelled corpus; prints the
    /// misses and false alarms, then recall and precision as one JSON line.
    Eval {
        /// `label<TAB>text` lines (labels: the gate's categories, `concern`, `negative`).
        #[arg(long, default_value = "domain/tests/safety/corpus.tsv")]
        corpus: PathBuf,
        /// Weights to try instead of the shipped ones (from `prism safety train --out`).
        #[arg(long)]
        classifier: Option<PathBuf>,
    },
    /// Train the semantic stage's classifier on labelled corpora (needs PRISM_SAFETY_MODEL_DIR)
    /// and write its weights with the corpora's SHA-256.
    Train {
        /// Corpus files (`label<TAB>text`); by default every English `.tsv` in
        /// domain/tests/safety/ (not `unseen/`, not `NAME.LANG.tsv`).
        #[arg(long = "corpus")]
        corpora: Vec<PathBuf>,
        #[arg(long, default_value = "safety-model/classifier.json")]
        out: PathBuf,
        /// The out-of-fold precision the threshold keeps.
        #[arg(long, default_value_t = 0.97)]
        precision: f64,
    },
    /// Crisis escalations since a date, per category and stage: counts only, never words.
    Stats {
        /// A date (YYYY-MM-DD) or an RFC 3339 time.
        #[arg(long)]
        since: String,
    },
}

pub async fn safety_eval(cfg: &Config, corpus: PathBuf, classifier: Option<PathBuf>) -> anyhow::Result<()> {
    use prism_domain::safety::{assess, eval, Level};
    let text = std::fs::read_to_string(&corpus).with_context(|| format!("reading {}", corpus.display()))?;
    let sentences = eval::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", corpus.display()))?;
    let mut gateway = prism_ai_gateway::http::Fallback::new(cfg.model()?);
    gateway.budget = cfg.ai_budget;
    let semantic = match (classifier, &cfg.safety_model_dir) {
        (Some(path), Some(dir)) => {
            let c = prism_safety_model::Classifier::from_json(&std::fs::read_to_string(&path)?)?;
            Some(std::sync::Arc::new(prism_safety_model::Semantic::with_classifier(
                prism_safety_model::Embedder::load(dir)?,
                c,
            )))
        }
        (Some(_), None) => anyhow::bail!("--classifier needs PRISM_SAFETY_MODEL_DIR"),
        (None, _) => cfg.semantic()?,
    };
    let stages = [
        "rules",
        if semantic.is_some() { "+semantic" } else { "" },
        if gateway.primary.is_some() { "+model" } else { "" },
    ]
    .concat();
    let mut judged = Vec::with_capacity(sentences.len());
    // Each stage alone as well as together: what each adds.
    let (mut by_rules, mut by_semantic) = (Vec::new(), Vec::new());
    let mut scores = std::collections::HashMap::new();
    let mut took = Vec::new();
    for (label, text) in sentences {
        let rules = assess(&text);
        // The semantic stage reads each sentence once: scored alone, then folded in below.
        let mut raised = None;
        if let Some(s) = &semantic {
            let started = std::time::Instant::now();
            let r = s.read(&text)?;
            took.push(started.elapsed().as_secs_f64() * 1000.0);
            let mut alone = rules.clone();
            alone.level = if r.crisis { Level::Crisis } else { Level::None };
            by_semantic.push((label, text.clone(), alone));
            scores.insert(text.clone(), r.score);
            // As in the request path: it only raises what the rules left below crisis.
            raised = (r.crisis && !rules.is_crisis()).then(|| prism_domain::safety::Verdict {
                level: Level::Crisis,
                categories: Vec::new(),
            });
        }
        let (a, _, _) = prism_commands::reflection::safety::after_semantic(
            &gateway,
            rules.clone(),
            raised,
            &text,
            gateway.deadline(),
        )
        .await;
        by_rules.push((label, text.clone(), rules));
        judged.push((label, text, a));
    }
    let report = eval::score(&judged);
    let score_of = |t: &str| scores.get(t).map_or(String::new(), |s| format!("{s:.2} "));
    for (label, text) in &report.misses {
        println!("missed        {:<18} {}{text}", label.as_str(), score_of(text));
    }
    for (label, text) in &report.false_alarms {
        println!("false alarm   {:<18} {}{text}", label.as_str(), score_of(text));
    }
    let summary = |r: &eval::Report| serde_json::json!({"recall": r.recall, "precision": r.precision});
    let mut line = serde_json::to_value(&report)?;
    line["stages"] = stages.into();
    line["misses"] = report.misses.len().into();
    line["false_alarms"] = report.false_alarms.len().into();
    line["rules_alone"] = summary(&eval::score(&by_rules));
    if let Some(s) = semantic.as_ref().filter(|_| !took.is_empty()) {
        line["semantic_alone"] = summary(&eval::score(&by_semantic));
        // Speed, on however many cores this runs on (scripts/eval-safety pins one).
        took.sort_by(f64::total_cmp);
        let p99 = took[((took.len() as f64 * 0.99) as usize).min(took.len() - 1)];
        let mut entry = String::new();
        for (_, t, _) in judged.iter().cycle().take(judged.len() * 50) {
            if entry.len() + t.len() + 1 > 8_000 {
                break;
            }
            entry.push_str(t);
            entry.push(' ');
        }
        let mut long = Vec::new();
        for _ in 0..5 {
            let started = std::time::Instant::now();
            s.read(&entry)?;
            long.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        long.sort_by(f64::total_cmp);
        line["semantic_p99_ms_per_text"] = ((p99 * 100.0).round() / 100.0).into();
        line["semantic_ms_8000_chars"] = ((long[2] * 100.0).round() / 100.0).into();
        line["chars_of_long_entry"] = entry.chars().count().into();
    }
    println!("{line}");
    Ok(())
}

/// `prism safety train`: embeds every sentence of the corpora, trains the classifier and writes
/// it (see `prism_safety_model::train`).
pub fn safety_train(cfg: &Config, corpora: Vec<PathBuf>, out: PathBuf, precision: f64) -> anyhow::Result<()> {
    use prism_domain::safety::eval;
    let dir = cfg
        .safety_model_dir
        .as_ref()
        .context("PRISM_SAFETY_MODEL_DIR must name the embedding model (scripts/run fetches it)")?;
    let embedder = prism_safety_model::Embedder::load(dir)?;
    let mut corpora = if corpora.is_empty() {
        std::fs::read_dir("domain/tests/safety")?
            .filter_map(Result::ok)
            .map(|e| e.path())
            // English only: the embedding model reads English (`fresh-1.de.tsv` is German).
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                name.ends_with(".tsv") && name.matches('.').count() == 1
            })
            .collect()
    } else {
        corpora
    };
    corpora.sort();
    let mut bytes = Vec::new();
    let mut examples = Vec::new();
    for path in &corpora {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let sentences = eval::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for chunk in sentences.chunks(32) {
            let texts: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
            for ((label, _), embedding) in chunk.iter().zip(embedder.embed(&texts)?) {
                examples.push(prism_safety_model::train::Example {
                    embedding,
                    crisis: label.is_crisis(),
                });
            }
        }
        bytes.push(text.into_bytes());
    }
    if let Ok(dump) = std::env::var("PRISM_SAFETY_DUMP") {
        let lines: Vec<String> = examples
            .iter()
            .map(|e| serde_json::json!({"y": e.crisis, "x": e.embedding}).to_string())
            .collect();
        std::fs::write(dump, lines.join("\n"))?;
    }
    let parts: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
    let t = prism_safety_model::train::train(&examples, precision);
    let threshold = t.threshold;
    let classifier = t.classifier(
        prism_safety_model::sha256_hex(&parts),
        corpora.iter().map(|p| p.display().to_string()).collect(),
        format!(
            "an RBF support vector machine on {} sentences ({} support vectors); threshold at out-of-fold precision {precision} (out-of-fold recall {:.3}, precision {:.3})",
            examples.len(),
            t.machine.coef.len(),
            t.out_of_fold_recall,
            t.out_of_fold_precision
        ),
    );
    std::fs::write(&out, serde_json::to_string_pretty(&classifier)? + "\n")?;
    println!(
        "{}",
        serde_json::json!({"sentences": examples.len(), "threshold": threshold,
            "out_of_fold_recall": t.out_of_fold_recall, "out_of_fold_precision": t.out_of_fold_precision,
            "corpora_sha256": classifier.corpora_sha256, "out": out.display().to_string()})
    );
    Ok(())
}

/// The start of `since`: a date is its midnight, UTC.
fn parse_since(since: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(since) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d")
        .with_context(|| format!("--since {since:?}: expected YYYY-MM-DD or an RFC 3339 time"))?;
    Ok(day.and_time(chrono::NaiveTime::MIN).and_utc())
}

pub async fn safety_stats(pool: sqlx::PgPool, since: String) -> anyhow::Result<()> {
    let since = parse_since(&since)?;
    let rows: Vec<(String, Option<String>, bool, i64)> = sqlx::query_as(
        "SELECT aggregate_type, c.category, coalesce((payload->>'by_model')::boolean, false), count(*) \
         FROM events \
         LEFT JOIN LATERAL jsonb_array_elements_text(coalesce(payload->'categories', '[]'::jsonb)) AS c(category) ON true \
         WHERE event_type = 'safety.crisis_detected' AND recorded_at >= $1 \
         GROUP BY 1, 2, 3",
    )
    .bind(since)
    .fetch_all(&pool)
    .await?;
    let total: (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE coalesce((payload->>'by_model')::boolean, false)) \
         FROM events WHERE event_type = 'safety.crisis_detected' AND recorded_at >= $1",
    )
    .bind(since)
    .fetch_one(&pool)
    .await?;
    let mut by_category = std::collections::BTreeMap::<String, i64>::new();
    for (_, category, _, n) in &rows {
        *by_category
            .entry(category.clone().unwrap_or_else(|| "unrecorded".into()))
            .or_default() += n;
    }
    let mut by_surface = std::collections::BTreeMap::<String, i64>::new();
    let surfaces: Vec<(String, i64)> = sqlx::query_as(
        "SELECT aggregate_type, count(*) FROM events \
         WHERE event_type = 'safety.crisis_detected' AND recorded_at >= $1 GROUP BY 1",
    )
    .bind(since)
    .fetch_all(&pool)
    .await?;
    by_surface.extend(surfaces);
    println!("{:<20} {:>8}", "category", "crises");
    for (c, n) in &by_category {
        println!("{c:<20} {n:>8}");
    }
    let line = serde_json::json!({
        "since": since,
        "crisis": total.0,
        "raised_by_model": total.1,
        "by_category": by_category,
        "by_surface": by_surface,
    });
    println!("{line}");
    Ok(())
}

/// `prism outbox list|retry`: mail not sent yet, and the dead letters back on the road.
#[derive(clap::Subcommand)]
pub enum OutboxCommand {
    /// Dead letters (attempts spent) and pending messages, with the last error.
    List,
    /// Put dead letters back to pending, due now: one (`--id`) or all of them.
    Retry {
        /// The message (its event id, as `list` shows it); all dead letters when absent.
        #[arg(long)]
        id: Option<Uuid>,
    },
}

pub async fn outbox(pool: sqlx::PgPool, cmd: OutboxCommand) -> anyhow::Result<()> {
    match cmd {
        OutboxCommand::List => {
            let rows = prism_projections::mail::deliver::unsent(&pool).await?;
            if rows.is_empty() {
                println!("nothing waiting: every message was sent");
            }
            for r in rows {
                println!(
                    "{}  {:<8} {:<15} attempts {:>2}  next {}  {}",
                    r.event_id,
                    r.status,
                    r.kind,
                    r.attempts,
                    r.next_attempt_at.format("%Y-%m-%d %H:%M:%S"),
                    r.last_error.unwrap_or_default()
                );
            }
        }
        OutboxCommand::Retry { id } => {
            let n = prism_projections::mail::deliver::retry(&pool, id).await?;
            println!("{n} message(s) due again");
        }
    }
    Ok(())
}
