//! Query results on the wire: a DataFrame streamed batch by batch as Flight data (never collected whole), with
//! the types every client can read, and the mapping of engine errors to gRPC status codes.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_flight::FlightData;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use futures::{Stream, StreamExt};
use tonic::Status;

use crate::engine::Engine;

/// The largest Flight data message we send. Clients' default receive limit is gRPC's 4 MiB; batches are split
/// below it so an untuned client still reads every result.
pub const MAX_FLIGHT_DATA_SIZE: usize = 2 * 1024 * 1024;

pub type FlightDataStream = Pin<Box<dyn Stream<Item = Result<FlightData, Status>> + Send + 'static>>;

/// `Utf8View`/`BinaryView` become `Utf8`/`Binary` (JDBC and older clients cannot read views), recursively;
/// every other type (dates, timestamps, decimals) is kept.
pub fn plain_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::ListView(f) | DataType::List(f) => DataType::List(plain_field(f)),
        DataType::LargeListView(f) | DataType::LargeList(f) => DataType::LargeList(plain_field(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(plain_field(f), *n),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(plain_field).collect::<Fields>()),
        DataType::Map(f, sorted) => DataType::Map(plain_field(f), *sorted),
        other => other.clone(),
    }
}

fn plain_field(f: &FieldRef) -> FieldRef {
    Arc::new(Field::new(f.name(), plain_type(f.data_type()), f.is_nullable()).with_metadata(f.metadata().clone()))
}

pub fn plain_schema(schema: &Schema) -> Schema {
    Schema::new_with_metadata(schema.fields().iter().map(plain_field).collect::<Fields>(), schema.metadata().clone())
}

/// Casts the columns whose type differs from `target` (same field order).
pub fn to_plain(batch: RecordBatch, target: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    if batch.schema().fields() == target.fields() {
        return Ok(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .zip(target.fields())
        .map(|(c, f)| if c.data_type() == f.data_type() { Ok(c.clone()) } else { cast(c, f.data_type()) })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(target.clone(), columns)
}

/// Counts the results being streamed, so tests (and a future `/metrics`) can see a dropped client's query end.
#[derive(Debug, Default, Clone)]
pub struct ActiveQueries(Arc<AtomicUsize>);

impl ActiveQueries {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
    fn enter(&self) -> ActiveGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        ActiveGuard(self.0.clone())
    }
}

struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Executes the DataFrames one after the other and streams their batches. The schema message goes first even
/// when there is no row. Dropping the returned stream (the client went away, or cancelled) drops DataFusion's
/// stream, which stops the query's tasks.
pub fn stream_frames(engine: &Engine, frames: Vec<DataFrame>, schema: SchemaRef, active: &ActiveQueries) -> FlightDataStream {
    let guard = active.enter();
    let target = schema.clone();
    let engine = engine.clone();
    // Each frame runs on the query runtime (see `Engine::execute`); this side only encodes.
    let batches = futures::stream::iter(frames).map(move |df| engine.execute(df)).flatten().map(move |r| match r {
        Ok(b) => to_plain(b, &target).map_err(FlightError::Arrow),
        Err(e) => Err(FlightError::Tonic(Box::new(status_from_df(&e)))),
    });
    let data = FlightDataEncoderBuilder::new().with_schema(schema).with_max_flight_data_size(MAX_FLIGHT_DATA_SIZE).build(batches).map(move |r| {
        // The guard lives as long as the stream: the query counts as active until it is dropped.
        let _ = &guard;
        r.map_err(Status::from)
    });
    Box::pin(data)
}

/// The gRPC status for an engine error: the user's mistakes (SQL, unknown names, wrong parameters) are
/// `InvalidArgument`, unsupported features `Unimplemented`, bad data files `FailedPrecondition`, memory limits
/// `ResourceExhausted`; the message is the one the CLI prints.
pub fn status_from_df(e: &DataFusionError) -> Status {
    use crate::engine::runtime::{Interrupted, interrupted};
    let message = crate::errors::describe_error(e);
    if let Some(refusal) = crate::engine::guard::refusal(e) {
        return if refusal.is_permission() { Status::permission_denied(message) } else { Status::invalid_argument(message) };
    }
    match interrupted(e) {
        Some(Interrupted::Timeout(_)) => return Status::deadline_exceeded(message),
        Some(Interrupted::ShuttingDown) => return Status::unavailable(message),
        Some(Interrupted::Panicked(_)) => return Status::internal(message),
        None => {}
    }
    match e.find_root() {
        DataFusionError::SQL(..) | DataFusionError::Plan(..) | DataFusionError::SchemaError(..) => Status::invalid_argument(message),
        DataFusionError::NotImplemented(..) => Status::unimplemented(message),
        DataFusionError::ResourcesExhausted(..) => Status::resource_exhausted(message),
        DataFusionError::External(inner) if inner.is::<crate::sources::SourceError>() || inner.is::<crate::transform::TransformError>() => {
            Status::failed_precondition(message)
        }
        _ => Status::internal(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_become_plain_types() {
        let s = Schema::new(vec![
            Field::new("a", DataType::Utf8View, true),
            Field::new("l", DataType::List(Arc::new(Field::new("item", DataType::Utf8View, true))), true),
            Field::new("d", DataType::Date32, true),
        ]);
        let p = plain_schema(&s);
        assert_eq!(p.field(0).data_type(), &DataType::Utf8);
        assert_eq!(p.field(1).data_type(), &DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))));
        assert_eq!(p.field(2).data_type(), &DataType::Date32);
    }
}
