//! The log as Parquet, for analysts (DuckDB, Polars, Spark read it as it is): one row per
//! event, typed columns — `global_position`, `event_id`, `tenant_id`, `aggregate_type`,
//! `aggregate_id`, `sequence`, `event_type`, `event_version`, `recorded_at` (UTC microseconds),
//! `actor_id`, `actor_kind` (from the metadata, for filtering without parsing JSON), `hash`
//! (hex) — and the `payload` and `metadata` as JSON text. Row groups of
//! [`ROW_GROUP`] events, zstd.
//!
//! Every field of the stored envelope is there, so an export read back is the events exactly
//! as stored (their hash chains verify, and `prism rebuild --from` takes it like NDJSON).

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use prism_event_store::{ExportRow, StoredEvent};
use uuid::Uuid;

use crate::ProjectionError;

/// Events per row group: large enough for fast scans, small enough to stream.
pub const ROW_GROUP: usize = 100_000;

/// Whether `path` is a Parquet file (by its name, else its first bytes).
pub fn is_parquet(path: &Path) -> bool {
    if path.extension().is_some_and(|e| e == "parquet") {
        return true;
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == b"PAR1"
}

fn schema() -> Arc<Schema> {
    let text = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    Arc::new(Schema::new(vec![
        Field::new("global_position", DataType::Int64, false),
        text("event_id", false),
        text("tenant_id", true),
        text("aggregate_type", false),
        text("aggregate_id", false),
        Field::new("sequence", DataType::Int64, false),
        text("event_type", false),
        Field::new("event_version", DataType::Int32, false),
        Field::new(
            "recorded_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        text("actor_id", true),
        text("actor_kind", true),
        text("hash", false),
        text("payload", false),
        text("metadata", false),
    ]))
}

fn parquet_err(e: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::Io(format!("parquet: {e}"))
}

/// Writes events as row groups to a Parquet file.
pub struct Writer {
    inner: ArrowWriter<std::io::BufWriter<std::fs::File>>,
    schema: Arc<Schema>,
}

impl Writer {
    pub fn create(path: &Path) -> Result<Self, ProjectionError> {
        let file = std::fs::File::create(path).map_err(|e| ProjectionError::Io(format!("{}: {e}", path.display())))?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(parquet_err)?))
            .set_max_row_group_row_count(Some(ROW_GROUP));
        // A dictionary only pays where values repeat (types, aggregates, tenants, actors); for
        // a column of unique values it is hashing for nothing before it falls back to plain.
        for unique in [
            "global_position",
            "event_id",
            "recorded_at",
            "hash",
            "payload",
            "metadata",
        ] {
            props = props.set_column_dictionary_enabled(parquet::schema::types::ColumnPath::from(unique), false);
        }
        let props = props.build();
        let schema = schema();
        let inner = ArrowWriter::try_new(
            std::io::BufWriter::with_capacity(1 << 20, file),
            schema.clone(),
            Some(props),
        )
        .map_err(parquet_err)?;
        Ok(Self { inner, schema })
    }

    /// Appends `events` (the writer cuts row groups at [`ROW_GROUP`]); their JSON goes in as
    /// Postgres rendered it.
    pub fn write(&mut self, events: &[ExportRow]) -> Result<(), ProjectionError> {
        if events.is_empty() {
            return Ok(());
        }
        let n = events.len();
        let mut position = Int64Builder::with_capacity(n);
        let mut sequence = Int64Builder::with_capacity(n);
        let mut version = Int32Builder::with_capacity(n);
        let mut at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
        let s = || StringBuilder::with_capacity(n, n * 36);
        let (mut event_id, mut tenant, mut agg_type, mut agg_id, mut ty) = (s(), s(), s(), s(), s());
        let (mut actor, mut actor_kind, mut hash) = (s(), s(), s());
        let mut payload = StringBuilder::with_capacity(n, n * 256);
        let mut metadata = StringBuilder::with_capacity(n, n * 128);
        for e in events {
            position.append_value(e.global_position);
            event_id.append_value(e.event_id.to_string());
            tenant.append_option(e.tenant_id.map(|t| t.to_string()));
            agg_type.append_value(&e.aggregate_type);
            agg_id.append_value(e.aggregate_id.to_string());
            sequence.append_value(e.sequence);
            ty.append_value(&e.event_type);
            version.append_value(e.event_version);
            at.append_value(e.recorded_at.timestamp_micros());
            actor.append_option(e.actor_id.as_deref());
            actor_kind.append_option(e.actor_kind.as_deref());
            hash.append_value(hex::encode(&e.hash));
            payload.append_value(&e.payload);
            metadata.append_value(&e.metadata);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(position.finish()),
            Arc::new(event_id.finish()),
            Arc::new(tenant.finish()),
            Arc::new(agg_type.finish()),
            Arc::new(agg_id.finish()),
            Arc::new(sequence.finish()),
            Arc::new(ty.finish()),
            Arc::new(version.finish()),
            Arc::new(at.finish()),
            Arc::new(actor.finish()),
            Arc::new(actor_kind.finish()),
            Arc::new(hash.finish()),
            Arc::new(payload.finish()),
            Arc::new(metadata.finish()),
        ];
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(parquet_err)?;
        self.inner.write(&batch).map_err(parquet_err)
    }

    /// Writes the footer; the file is complete.
    pub fn finish(self) -> Result<(), ProjectionError> {
        self.inner.close().map_err(parquet_err)?;
        Ok(())
    }
}

/// Reads a Parquet export back as events, `batch` at a time (on the calling thread: give it
/// one of its own).
pub fn read(path: &Path, batch: usize, mut each: impl FnMut(Vec<StoredEvent>) -> bool) -> Result<(), ProjectionError> {
    let file = std::fs::File::open(path).map_err(|e| ProjectionError::Io(format!("{}: {e}", path.display())))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(parquet_err)?
        .with_batch_size(batch.max(1))
        .build()
        .map_err(parquet_err)?;
    for rb in reader {
        let rb = rb.map_err(parquet_err)?;
        if !each(events_of(&rb)?) {
            return Ok(());
        }
    }
    Ok(())
}

fn column<'a, T: 'static>(rb: &'a RecordBatch, name: &str) -> Result<&'a T, ProjectionError> {
    rb.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| ProjectionError::Io(format!("parquet: no column {name} of the expected type")))
}

fn events_of(rb: &RecordBatch) -> Result<Vec<StoredEvent>, ProjectionError> {
    let position = column::<Int64Array>(rb, "global_position")?;
    let event_id = column::<StringArray>(rb, "event_id")?;
    let tenant = column::<StringArray>(rb, "tenant_id")?;
    let agg_type = column::<StringArray>(rb, "aggregate_type")?;
    let agg_id = column::<StringArray>(rb, "aggregate_id")?;
    let sequence = column::<Int64Array>(rb, "sequence")?;
    let ty = column::<StringArray>(rb, "event_type")?;
    let version = column::<Int32Array>(rb, "event_version")?;
    let at = column::<TimestampMicrosecondArray>(rb, "recorded_at")?;
    let hash = column::<StringArray>(rb, "hash")?;
    let payload = column::<StringArray>(rb, "payload")?;
    let metadata = column::<StringArray>(rb, "metadata")?;
    let uuid = |s: &str, row: usize| {
        s.parse::<Uuid>()
            .map_err(|e| ProjectionError::Io(format!("parquet row {row}: {s} is not a uuid: {e}")))
    };
    let mut out = Vec::with_capacity(rb.num_rows());
    for i in 0..rb.num_rows() {
        out.push(StoredEvent {
            global_position: position.value(i),
            event_id: uuid(event_id.value(i), i)?,
            tenant_id: if tenant.is_null(i) {
                None
            } else {
                Some(uuid(tenant.value(i), i)?)
            },
            aggregate_type: agg_type.value(i).to_owned(),
            aggregate_id: uuid(agg_id.value(i), i)?,
            sequence: sequence.value(i),
            event_type: ty.value(i).to_owned(),
            event_version: version.value(i),
            payload: serde_json::from_str(payload.value(i))?,
            metadata: serde_json::from_str(metadata.value(i))?,
            recorded_at: chrono::DateTime::from_timestamp_micros(at.value(i))
                .ok_or_else(|| ProjectionError::Io(format!("parquet row {i}: a time out of range")))?,
            hash: hex::decode(hash.value(i)).map_err(parquet_err)?,
        });
    }
    Ok(out)
}
